import path from "node:path";
import type { Locator, Page } from "@playwright/test";
import { api, expect, runPage, SCREENSHOTS, screenshot, signedIn, test } from "./fixtures";

const PROJECT = "team/e2e-scaling";
const FARM = `${PROJECT}/farm`;

// every target says where it runs and why, so the page can be checked against what really ran
const WORKER = `kind: image
description: A worker that says which scaling hook it runs (e2e of scaling from the run page)
targets:
  execute: |
    #!/bin/sh -e
    echo "execute on $SLIPSTREAM_NODE_INSTANCE_NAME"
    ss-display "executed"
  onvmadd: |
    #!/bin/sh -e
    echo "onvmadd on $SLIPSTREAM_NODE_INSTANCE_NAME: $SLIPSTREAM_SCALING_ACTION $SLIPSTREAM_SCALING_NODE $SLIPSTREAM_SCALING_VMS"
    ss-display "onvmadd: $SLIPSTREAM_SCALING_VMS"
  onvmremove: |
    #!/bin/sh -e
    echo "onvmremove on $SLIPSTREAM_NODE_INSTANCE_NAME: $SLIPSTREAM_SCALING_ACTION $SLIPSTREAM_SCALING_VMS"
    ss-display "onvmremove: $SLIPSTREAM_SCALING_VMS"
  prescale: |
    #!/bin/sh -e
    echo "prescale on $SLIPSTREAM_NODE_INSTANCE_NAME: leaving"
  report: |
    #!/bin/sh -e
    echo "report of $SLIPSTREAM_NODE_INSTANCE_NAME" > "$SLIPSTREAM_REPORT_DIR/worker.txt"
`;

const DEPLOYMENT = `kind: deployment
description: Two workers to begin with, grown and shrunk from the run page
nodes:
  worker: { image: worker, multiplicity: 2 }
`;

/** Marks a page's document: the mark is gone if the page reloaded or navigated by a full load since. */
const markDocument = (page: Page) => page.evaluate(() => Object.assign(window, { __e2eSameDocument: true }));
const sameDocument = (page: Page) =>
  page.evaluate(() => (window as unknown as { __e2eSameDocument?: boolean }).__e2eSameDocument === true);

/** The Scaling section of a run page, by what a person sees. */
function scaling(page: Page) {
  const section = page.getByRole("region", { name: "Scaling" });
  const node = (name: string) => section.getByRole("group", { name: new RegExp(`^${name}\\b`) });
  const cycle = section.getByTestId("scale-cycle");
  const row = (instance: string) => cycle.locator(`tr[data-scale-instance="${instance}"]`);
  return {
    section,
    node,
    status: section.getByTestId("scale-status"),
    add: (n: string) => node(n).getByRole("button", { name: "Add…" }),
    removeSelected: (n: string) => node(n).getByRole("button", { name: "Remove selected…" }),
    cycle,
    cycleTitle: cycle.getByRole("heading"),
    row,
    /** a target chip in an instance's row, finished with exit code 0 */
    ran: (instance: string, target: string): Locator =>
      row(instance).locator(`[data-target="${target}"][data-outcome="ok"]`),
  };
}

test("a member grows a scalable run by 2 and removes an instance from its page while an admin watches live", async ({
  browser,
  server,
}) => {
  test.setTimeout(300_000);
  const owner = await api(server, "member");
  const adminApi = await api(server, "admin");
  const imported = await owner.call("POST", "/api/modules/import", {
    files: [
      { path: `${PROJECT}/worker`, yaml: WORKER },
      { path: FARM, yaml: DEPLOYMENT },
    ],
  });
  expect(imported.status, JSON.stringify(imported.body)).toBe(200);

  const alice = await signedIn(browser, server, "member");
  const admin = await signedIn(browser, server, "admin");

  // alice launches it from the Run… dialog with "Scalable" checked
  await alice.goto(`/modules/${FARM}`);
  await alice.getByRole("button", { name: "Run…" }).click();
  const dialog = alice.getByRole("dialog", { name: "Run farm" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("group", { name: /^worker/ }).getByLabel("Multiplicity")).toHaveValue("2");
  await dialog.getByRole("checkbox", { name: /Scalable/ }).check();
  const launched = alice.waitForResponse(
    (r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/api/runs",
  );
  await dialog.getByRole("button", { name: "Launch run" }).click();
  const launch = await launched;
  expect(launch.status()).toBe(201);
  const runId = ((await launch.json()) as { id: string; scalable: boolean }).id;
  await alice.waitForURL(`**/runs/${runId}`, { timeout: 30_000 });
  await admin.goto(`/runs/${runId}`);
  for (const pg of [alice, admin]) await markDocument(pg);

  const a = runPage(alice);
  const b = runPage(admin);
  const sa = scaling(alice);
  const sb = scaling(admin);
  for (const p of [a, b]) await expect(p.state).toHaveText("Ready", { timeout: 120_000 });
  for (const s of [sa, sb]) {
    await expect(s.status).toHaveText("Can scale now");
    await expect(s.add("worker")).toBeEnabled(); // the owner and admins both may
    await expect(s.node("worker").getByRole("checkbox")).toHaveCount(2);
    await expect(s.removeSelected("worker")).toBeDisabled(); // nothing selected yet
    await expect(s.section.getByText(/No scale yet/)).toBeVisible();
  }

  // the Add… dialog is keyboard-usable: it opens with the focus on its field and Esc gives the focus back
  await sa.add("worker").focus();
  await alice.keyboard.press("Enter");
  const add = alice.getByRole("dialog", { name: "Add instances to worker" });
  const howMany = add.getByLabel("How many");
  await expect(howMany).toBeFocused();
  await alice.keyboard.press("Escape");
  await expect(add).toHaveCount(0);
  await expect(sa.add("worker")).toBeFocused();

  // it checks the count as the CLI does, then the server's own refusal shows at the field it names
  await sa.add("worker").click();
  await expect(howMany).toBeFocused();
  await howMany.fill("0");
  await add.getByRole("button", { name: "Add instances" }).click();
  await expect(add.getByText("'0' must be a whole number of instances to add, from 1")).toBeVisible();
  await expect(howMany).toHaveAttribute("aria-invalid", "true");
  await howMany.fill("1001");
  await howMany.press("Enter");
  await expect(add.getByText("'+1001' adds at most 1000 instances")).toBeVisible();
  await screenshot(alice, "scaling-add-dialog", false);

  const limits = await adminApi.call<Record<string, number>>("GET", "/api/settings/limits");
  expect(limits.status).toBe(200);
  const perRun = limits.body.instancesPerRun;
  expect((await adminApi.call("PUT", "/api/settings/limits", { instancesPerRun: 3 })).status).toBe(200);
  try {
    await howMany.fill("2");
    await add.getByRole("button", { name: "Add instances" }).click();
    // the server names the field it refuses: its message shows at "How many"
    await expect(add.locator(".field-error")).toContainText(
      "a run may have at most 3 instances; this one would have 4",
    );
    await expect(howMany).toHaveAttribute("aria-invalid", "true");
  } finally {
    expect((await adminApi.call("PUT", "/api/settings/limits", { instancesPerRun: perRun })).status).toBe(200);
  }

  // grow worker by 2: both pages see the new instances, the hooks and the way back to Ready
  await add.getByRole("button", { name: "Add instances" }).click();
  await expect(add).toHaveCount(0);
  await expect(sa.section.getByRole("status")).toHaveText(/Adding worker\.3, worker\.4 \(state Provisioning\)/);
  for (const [p, s] of [
    [a, sa],
    [b, sb],
  ] as const) {
    await expect(p.instance("worker.3")).toBeVisible();
    await expect(p.instance("worker.4")).toBeVisible();
    await expect(s.cycleTitle).toContainText("+2 worker: worker.3, worker.4");
    await expect(s.cycleTitle).toContainText(`by ${server.member.username}`);
    for (const w of ["worker.1", "worker.2"]) {
      await expect(s.row(w)).toHaveAttribute("data-role", "survivor");
      await expect(s.ran(w, "onvmadd")).toBeVisible({ timeout: 120_000 });
      await expect(s.row(w).locator('[data-target="execute"]')).toHaveCount(0); // no recipes again on survivors
    }
    for (const w of ["worker.3", "worker.4"]) {
      await expect(s.row(w)).toHaveAttribute("data-role", "added");
      await expect(s.ran(w, "execute")).toBeVisible({ timeout: 120_000 });
      await expect(s.row(w).locator('[data-target="onvmadd"]')).toHaveCount(0);
      await expect(s.ran(w, "report")).toBeVisible({ timeout: 120_000 });
    }
    await expect(p.state).toHaveText("Ready", { timeout: 120_000 });
    await expect(s.cycleTitle).toContainText("back in Ready");
    await expect(s.cycle.getByRole("list", { name: "States of this cycle" })).toHaveText(
      /Provisioning.*Executing.*SendingReports.*Ready/,
    );
    await expect(p.param("worker.1:statecustom")).toHaveText("onvmadd: worker.3 worker.4");
    await expect(p.instance("worker.4")).toHaveAttribute("data-tone", /^done-/);
    await expect(s.node("worker").getByRole("checkbox")).toHaveCount(4);
  }
  await screenshot(admin, "scaling-grown");

  // remove worker.2: it runs prescale and sends its report; the survivors run onvmremove
  await expect(sa.add("worker")).toBeEnabled();
  await sa.node("worker").getByRole("checkbox", { name: "worker.2" }).check();
  await expect(sa.node("worker")).toContainText("1 selected");
  await sa.removeSelected("worker").click();
  const confirm = alice.getByRole("dialog", { name: "Remove 1 instance of worker?" });
  await expect(confirm).toContainText("worker.2 runs its prescale target");
  await confirm.getByRole("button", { name: "Remove", exact: true }).click();
  await expect(confirm).toHaveCount(0);
  for (const [p, s] of [
    [a, sa],
    [b, sb],
  ] as const) {
    await expect(s.cycleTitle).toContainText("−1 worker: worker.2");
    await expect(s.row("worker.2")).toHaveAttribute("data-role", "removed");
    await expect(s.ran("worker.2", "prescale")).toBeVisible({ timeout: 120_000 });
    await expect(s.row("worker.2").locator('[data-target="report-sent"]')).toBeVisible({ timeout: 120_000 });
    for (const w of ["worker.1", "worker.3", "worker.4"]) {
      await expect(s.row(w)).toHaveAttribute("data-role", "survivor");
      await expect(s.ran(w, "onvmremove")).toBeVisible({ timeout: 120_000 });
    }
    await expect(p.state).toHaveText("Ready", { timeout: 120_000 });
    await expect(s.cycleTitle).toContainText("back in Ready");
    await expect(p.instance("worker.2")).toHaveAttribute("data-tone", "removed", { timeout: 60_000 });
    await expect(s.row("worker.2").locator('[data-target="stopped"]')).toHaveText("machine stopped", {
      timeout: 60_000,
    });
    await expect(p.param("worker.3:statecustom")).toHaveText("onvmremove: worker.2");
    await expect(s.node("worker").getByRole("checkbox")).toHaveCount(3);
    await expect(s.node("worker").getByRole("checkbox", { name: "worker.2" })).toHaveCount(0);
    // the first cycle is folded away, still there
    await expect(s.section.getByText("1 earlier scale cycle")).toBeVisible();
    await expect(s.status).toHaveText("Can scale now");
  }
  // no page reloaded: everything above arrived live
  for (const pg of [alice, admin]) expect(await sameDocument(pg)).toBe(true);
  await screenshot(alice, "scaling-shrunk");
  await alice.getByRole("region", { name: "Scaling" }).screenshot({
    path: path.join(SCREENSHOTS, "scaling-panel.png"),
  });

  expect((await owner.call("POST", `/api/runs/${runId}/terminate`)).status).toBe(200);
  await alice.context().close();
  await admin.context().close();
});
