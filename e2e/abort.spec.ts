import { api, expect, launchRun, openRun, screenshot, TUTORIAL, test } from "./fixtures";

test("abort with a message, reset it, abort again and terminate: both watchers see each step and who did it", async ({
  browser,
  server,
}) => {
  test.setTimeout(240_000);
  const owner = await api(server, "member");
  const runId = await launchRun(owner, {
    module: TUTORIAL,
    multiplicity: { client: 1 },
    keepRunning: "always",
    tags: ["e2e-abort"],
  });

  const { page: alice, p: a } = await openRun(browser, server, "member", runId);
  const { page: admin, p: b } = await openRun(browser, server, "admin", runId);
  // keep-running "always": the run stays in Ready, which leaves time to steer it
  for (const p of [a, b]) await expect(p.state).toHaveText("Ready", { timeout: 120_000 });
  await expect(a.button("Reset abort")).toBeDisabled();
  await expect(a.abortAlert).toHaveCount(0);

  // admin aborts with a message, through a confirmation dialog
  await b.button("Abort…").click();
  const confirm = admin.getByRole("dialog", { name: "Abort this run?" });
  await expect(confirm).toBeVisible();
  await expect(confirm.getByLabel("Message")).toBeFocused();
  await confirm.getByLabel("Message").fill("Stopped to debug apache");
  await confirm.getByRole("button", { name: "Abort run" }).click();
  await expect(confirm).toHaveCount(0);
  for (const p of [a, b]) {
    await expect(p.abortAlert).toContainText("Stopped to debug apache");
    await expect(p.param("ss:abort")).toHaveText("Stopped to debug apache");
    await expect(p.param("ss:abort")).toHaveClass(/abort-value/);
    const ev = p.events.filter({ hasText: "Aborted: Stopped to debug apache" });
    await expect(ev).toHaveCount(1);
    await expect(ev.locator(".actor")).toHaveText(server.admin.username);
    await expect(p.button("Abort…")).toBeDisabled();
    await expect(p.button("Reset abort")).toBeEnabled();
    // aborted but kept up: not a healthy Ready
    await expect(p.state).toHaveText("Ready · aborted");
  }
  await screenshot(alice, "run-page-aborted");

  // alice (the owner) resets the abort, as in the seed's debugging section
  await a.button("Reset abort").click();
  const reset = alice.getByRole("dialog", { name: "Reset the abort flag?" });
  await reset.getByRole("button", { name: "Reset abort" }).click();
  for (const p of [a, b]) {
    await expect(p.abortAlert).toHaveCount(0);
    const ev = p.events.filter({ hasText: "Abort reset" });
    await expect(ev).toHaveCount(1);
    await expect(ev.locator(".actor")).toHaveText(server.member.username);
    await expect(p.param("ss:abort")).toHaveText("not set");
    await expect(p.button("Abort…")).toBeEnabled();
  }

  // Esc closes a confirmation without doing anything
  await a.button("Abort…").click();
  await expect(alice.getByRole("dialog", { name: "Abort this run?" })).toBeVisible();
  await alice.keyboard.press("Escape");
  await expect(alice.getByRole("dialog")).toHaveCount(0);
  await expect(a.button("Abort…")).toBeFocused();
  await expect(a.abortAlert).toHaveCount(0);

  // abort again, then admin terminates: Ready → Finalizing → Aborted, since the abort flag is set
  await a.button("Abort…").click();
  const again = alice.getByRole("dialog", { name: "Abort this run?" });
  await again.getByLabel("Message").fill("Giving up for today");
  await again.getByRole("button", { name: "Abort run" }).click();
  for (const p of [a, b]) await expect(p.abortAlert).toContainText("Giving up for today");

  await b.button("Terminate").click();
  const term = admin.getByRole("dialog", { name: "Terminate this run?" });
  await term.getByRole("button", { name: "Terminate" }).click();
  for (const p of [a, b]) {
    await expect(p.state).toHaveText("Aborted", { timeout: 60_000 });
    const ev = p.events.filter({ hasText: "Terminate requested" });
    await expect(ev.locator(".actor")).toHaveText(server.admin.username);
    for (const name of ["Terminate", "Abort…", "Reset abort"]) await expect(p.button(name)).toBeDisabled();
    await expect(p.step("Aborted")).toHaveText(/\d\d:\d\d:\d\d/);
  }
  await alice.context().close();
  await admin.context().close();
});
