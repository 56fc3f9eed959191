import { expect, runPage, screenshot, signedIn, TUTORIAL, test } from "./fixtures";

test.describe.configure({ mode: "serial" });

test("two people watch the tutorial run live from the Run… dialog to Done; a late third sees the whole history", async ({
  browser,
  server,
}) => {
  test.setTimeout(300_000);
  const alice = await signedIn(browser, server, "member");
  const admin = await signedIn(browser, server, "admin");

  // admin watches the runs list; alice opens the deployment and presses Run…
  await admin.goto("/");
  await expect(admin.getByRole("heading", { name: "Runs", level: 1 })).toBeVisible();
  await alice.goto(`/modules/${TUTORIAL}`);
  await alice.getByRole("button", { name: "Run…" }).click();
  const dialog = alice.getByRole("dialog", { name: "Run system" });
  await expect(dialog).toBeVisible();
  const client = dialog.getByRole("group", { name: /^client/ });
  await expect(client.getByLabel("Multiplicity")).toHaveValue("1");
  await expect(client.getByText("mapped from apache:port")).toBeVisible();
  await client.getByLabel("Multiplicity").fill("3");
  // the profile's default is marked; the tutorial should end, so keep machines only on error
  await expect(dialog.getByRole("radio", { name: /On success \(your default\)/ })).toBeChecked();
  await dialog.getByRole("radio", { name: /On error/ }).check();
  await dialog.getByLabel("Tags").fill("e2e, tutorial");
  await screenshot(alice, "run-dialog", false);
  await dialog.getByRole("button", { name: "Launch run" }).click();

  await alice.waitForURL(/\/runs\/[0-9a-f-]{36}$/);
  const runId = alice.url().split("/").pop()!;
  const a = runPage(alice);
  await expect(a.reportsEmpty).toHaveText("Reports will be displayed as soon as available");

  // the new run appears in admin's list without a reload; admin opens it
  const row = admin.locator(`tr[data-run-id="${runId}"]`);
  await expect(row).toBeVisible();
  await expect(row).toContainText(server.member.username);
  await row.getByRole("link", { name: TUTORIAL }).click();
  await admin.waitForURL(`**/runs/${runId}`);
  const b = runPage(admin);

  for (const p of [a, b]) {
    await expect(p.watchers).toContainText(server.member.username);
    await expect(p.watchers).toContainText(server.admin.username);
  }

  // parameters change in place on both pages as the nodes publish them
  for (const p of [a, b]) await expect(p.param("apache.1:ready")).toHaveText("true", { timeout: 120_000 });

  // a third person opening mid-run gets the full history: the timeline and the events from the start
  const late = await signedIn(browser, server, "admin");
  await late.goto(`/runs/${runId}`);
  const c = runPage(late);
  await expect(c.step("Initializing")).toHaveText(/\d\d:\d\d:\d\d/);
  await expect(c.step("Provisioning")).toHaveText(/\d\d:\d\d:\d\d/);
  await expect(c.events.first()).toContainText("Run created from examples/tutorials/service-testing/system");
  await expect(c.events.first()).toContainText(server.member.username);
  await expect(c.param("apache.1:ready")).toHaveText("true");

  for (const p of [a, b, c]) {
    await expect(p.state).toHaveText("Done", { timeout: 180_000 });
    for (const s of ["Initializing", "Provisioning", "Executing", "SendingReports", "Ready", "Finalizing", "Done"]) {
      await expect(p.step(s)).toHaveText(/\d\d:\d\d:\d\d/);
    }
    await expect(p.param("client.3:statecustom")).toHaveText("OK: Welcome to SlipStream!");
    await expect(p.param("apache.1:statecustom")).toContainText("Apache ready");
    // every machine's tarball and the orchestrator's appear as they are uploaded
    for (const name of ["apache.1", "client.1", "client.2", "client.3", "orchestrator"]) {
      await expect(p.reports.filter({ hasText: `${name}_report_` })).toHaveCount(1);
    }
    await expect(p.reportsEmpty).toHaveCount(0);
    await expect(p.instance("client.3")).toHaveAttribute("data-tone", /done-/);
    await expect(p.events.filter({ hasText: "State Finalizing → Done" })).toHaveCount(1);
  }
  const link = a.reports.filter({ hasText: "client.1_report_" });
  const href = await link.getAttribute("href");
  const res = await alice.request.get(href!);
  expect(res.status()).toBe(200);
  expect(res.headers()["content-type"]).toContain("gzip");

  // a finished run offers no steering
  for (const name of ["Terminate", "Abort…", "Reset abort"]) await expect(a.button(name)).toBeDisabled();
  await screenshot(alice, "run-page-done");
  await alice.context().close();
  await admin.context().close();
  await late.context().close();
});
