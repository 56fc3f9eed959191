import type { Page } from "@playwright/test";
import { api, expect, holdMachines, runPage, screenshot, signedIn, TUTORIAL, test } from "./fixtures";

test.describe.configure({ mode: "serial" });

/** Marks a page's document: the mark is gone if the page reloaded or navigated by a full load since. */
const markDocument = (page: Page) => page.evaluate(() => Object.assign(window, { __e2eSameDocument: true }));
const sameDocument = (page: Page) =>
  page.evaluate(() => (window as unknown as { __e2eSameDocument?: boolean }).__e2eSameDocument === true);

test("two people watch the tutorial run live from the Run… dialog; a third joins in Ready, sees it all and follows live to Done", async ({
  browser,
  server,
}) => {
  test.setTimeout(300_000);
  const owner = await api(server, "member");
  const alice = await signedIn(browser, server, "member");
  const admin = await signedIn(browser, server, "admin");

  // admin watches the runs list; alice opens the deployment and presses Run…
  await admin.goto("/");
  await expect(admin.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();
  await expect(admin.locator(".live-indicator")).toHaveText("Live"); // following the list's changes
  await markDocument(admin);
  await alice.goto(`/modules/${TUTORIAL}`);
  await alice.getByRole("button", { name: "Run…" }).click();
  const dialog = alice.getByRole("dialog", { name: "Run system" });
  await expect(dialog).toBeVisible();
  const client = dialog.getByRole("group", { name: /^client/ });
  await expect(client.getByLabel("Multiplicity")).toHaveValue("1");
  await expect(client.getByText("mapped from apache:port")).toBeVisible();
  await client.getByLabel("Multiplicity").fill("3");
  // the profile's default is marked; keep the machines whatever happens, so the run waits in Ready until terminated
  await expect(dialog.getByRole("radio", { name: /On success \(your default\)/ })).toBeChecked();
  await dialog.getByRole("radio", { name: /^Always/ }).check();
  await dialog.getByLabel("Tags").fill("e2e, tutorial");
  await screenshot(alice, "run-dialog", false);
  const launched = alice.waitForResponse(
    (r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/api/runs",
  );
  // the tutorial takes about a second: its machines are held still until both pages are open, so that everything
  // the pages show from then on provably arrived live, not in the snapshot they loaded
  const machines = holdMachines(server);
  const a = runPage(alice);
  const b = runPage(admin);
  let runId: string;
  try {
    await dialog.getByRole("button", { name: "Launch run" }).click();
    const launch = await launched;
    expect(launch.status()).toBe(201);
    runId = ((await launch.json()) as { id: string }).id;

    // the new run appears in admin's list without a reload; admin opens it while it is still starting
    const row = admin.locator(`tr[data-run-id="${runId}"]`);
    await expect(row).toBeVisible();
    await expect(row).toContainText(server.member.username);
    await row.getByRole("link", { name: TUTORIAL }).click();
    await admin.waitForURL(`**/runs/${runId}`, { timeout: 30_000 });
    await alice.waitForURL(`**/runs/${runId}`, { timeout: 30_000 });
    expect(await sameDocument(admin)).toBe(true); // the list led to the run page without a page load
    await markDocument(alice);
    for (const p of [a, b]) {
      await expect(p.watchers).toContainText(server.member.username);
      await expect(p.watchers).toContainText(server.admin.username);
      // nothing has happened yet on either page
      await expect(p.param("apache.1:ready")).toHaveText("not set");
      await expect(p.param("client.3:statecustom")).toHaveText("not set");
      await expect(p.reportsEmpty).toHaveText("Reports will be displayed as soon as available");
      await expect(p.step("Executing")).toHaveText("");
    }
  } finally {
    machines.release();
  }
  // the run's agent host (or its agents) was held: what the pages showed so far cannot have come from its machines
  expect(machines.release()).toBeGreaterThan(0);

  // apache publishes ready after both pages opened: both show the change in place, highlighted (a value gets the
  // flash class only when it changes after the page mounted, never when it was already in the snapshot)
  for (const p of [b, a]) {
    const ready = p.param("apache.1:ready");
    await expect(ready).toHaveText("true", { timeout: 120_000 });
    await expect(ready).toHaveClass(/(^|\s)flash(\s|$)/);
  }

  // the machines' reports appear as they are uploaded, and the run waits in Ready (keep running: always)
  for (const p of [a, b]) {
    await expect(p.state).toHaveText("Ready", { timeout: 120_000 });
    for (const name of ["apache.1", "client.1", "client.2", "client.3"]) {
      await expect(p.reports.filter({ hasText: `${name}_report_` })).toHaveCount(1);
    }
    await expect(p.reportsEmpty).toHaveCount(0);
    await expect(p.param("client.3:statecustom")).toHaveText("OK: Welcome to SlipStream!");
    await expect(p.param("client.3:statecustom")).toHaveClass(/(^|\s)flash(\s|$)/);
    await expect(p.step("Executing")).toHaveText(/\d\d:\d\d:\d\d/);
    await expect(p.button("Terminate")).toBeEnabled();
  }
  await screenshot(admin, "run-page-ready");

  // a third person opens the run while it is still in Ready and gets the full history from the start
  const late = await signedIn(browser, server, "admin");
  await late.goto(`/runs/${runId}`);
  await markDocument(late);
  const c = runPage(late);
  await expect(c.state).toHaveText("Ready");
  await expect(c.step("Done")).toHaveText("");
  for (const s of ["Initializing", "Provisioning", "Executing", "SendingReports", "Ready"]) {
    await expect(c.step(s)).toHaveText(/\d\d:\d\d:\d\d/);
  }
  await expect(c.events.first()).toContainText("Run created from examples/tutorials/service-testing/system");
  await expect(c.events.first()).toContainText(server.member.username);
  await expect(c.events.filter({ hasText: "State SendingReports → Ready" })).toHaveCount(1);
  // history, not news: the values are there without the highlight
  await expect(c.param("apache.1:ready")).toHaveText("true");
  await expect(c.param("apache.1:ready")).not.toHaveClass(/(^|\s)flash(\s|$)/);
  await expect(c.param("client.3:statecustom")).toHaveText("OK: Welcome to SlipStream!");
  for (const name of ["apache.1", "client.1", "client.2", "client.3"]) {
    await expect(c.reports.filter({ hasText: `${name}_report_` })).toHaveCount(1);
  }
  for (const p of [a, b, c]) await expect(p.watchers.locator(".watcher")).toHaveCount(2); // admin twice counts once

  // a change pushed after the third page opened reaches all three live
  const set = await owner.call("PUT", `/api/runs/${runId}/params/client.1:statecustom`, {
    value: "Checked by alice from the API",
  });
  expect(set.status).toBe(200);
  for (const p of [a, b, c]) {
    await expect(p.param("client.1:statecustom")).toHaveText("Checked by alice from the API");
    await expect(p.param("client.1:statecustom")).toHaveClass(/(^|\s)flash(\s|$)/);
    await expect(p.state).toHaveText("Ready");
  }
  // each change flashes anew, in place: the value's animation flips between flash-0 and flash-1, which restarts it
  const flashes = await Promise.all(
    [a, b, c].map(async (p) => /flash-[01]/.exec((await p.param("client.1:statecustom").getAttribute("class")) ?? "")),
  );
  expect(flashes.every((f) => f !== null)).toBe(true);
  const setAgain = await owner.call("PUT", `/api/runs/${runId}/params/client.1:statecustom`, {
    value: "Checked again by alice",
  });
  expect(setAgain.status).toBe(200);
  for (const [i, p] of [a, b, c].entries()) {
    await expect(p.param("client.1:statecustom")).toHaveText("Checked again by alice");
    const other = flashes[i]?.[0] === "flash-0" ? "flash-1" : "flash-0";
    await expect(p.param("client.1:statecustom")).toHaveClass(new RegExp(`(^|\\s)${other}(\\s|$)`));
  }
  // all three show the same events: nothing missed, nothing twice
  const seqs = (pg: Page) =>
    pg.locator("[data-seq]").evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.seq));
  const expected = await seqs(alice);
  expect(new Set(expected).size).toBe(expected.length);
  for (const pg of [admin, late]) await expect.poll(() => seqs(pg)).toEqual(expected);

  // alice terminates from her page: every page follows Ready → Finalizing → Done
  await a.button("Terminate").click();
  const term = alice.getByRole("dialog", { name: "Terminate this run?" });
  await term.getByRole("button", { name: "Terminate" }).click();
  await expect(term).toHaveCount(0);
  for (const p of [a, b, c]) {
    await expect(p.state).toHaveText("Done", { timeout: 120_000 });
    for (const s of ["Initializing", "Provisioning", "Executing", "SendingReports", "Ready", "Finalizing", "Done"]) {
      await expect(p.step(s)).toHaveText(/\d\d:\d\d:\d\d/);
    }
    const ev = p.events.filter({ hasText: "Terminate requested" });
    await expect(ev).toHaveCount(1);
    await expect(ev.locator(".actor")).toHaveText(server.member.username);
    await expect(p.events.filter({ hasText: "State Finalizing → Done" })).toHaveCount(1);
    await expect(p.param("client.3:statecustom")).toHaveText("OK: Welcome to SlipStream!");
    await expect(p.param("apache.1:statecustom")).toContainText("Apache ready");
    for (const name of ["apache.1", "client.1", "client.2", "client.3"]) {
      await expect(p.reports.filter({ hasText: `${name}_report_` })).toHaveCount(1);
    }
    // the orchestrator's reports appear live too: the one written when the run was kept in Ready, the final one
    await expect(p.reports.filter({ hasText: "orchestrator_report_" })).toHaveCount(2);
    await expect(p.instance("client.3")).toHaveAttribute("data-tone", /done-/);
    // a finished run offers no steering
    for (const name of ["Terminate", "Abort…", "Reset abort"]) await expect(p.button(name)).toBeDisabled();
  }
  // none of the pages reloaded along the way
  for (const pg of [alice, admin, late]) expect(await sameDocument(pg)).toBe(true);

  const link = a.reports.filter({ hasText: "client.1_report_" });
  const href = await link.getAttribute("href");
  const res = await alice.request.get(href!);
  expect(res.status()).toBe(200);
  expect(res.headers()["content-type"]).toContain("gzip");

  await screenshot(alice, "run-page-done");
  await alice.context().close();
  await admin.context().close();
  await late.context().close();
});
