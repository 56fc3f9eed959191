import { api, expect, launchRun, openRun, readmePicture, TUTORIAL, test } from "./fixtures";

/** The countdown's seconds left, from its "HH:MM:SS". */
const secondsOf = (text: string) => {
  const [h, m, s] = (/(\d+):(\d\d):(\d\d)/.exec(text) ?? []).slice(1).map(Number);
  return h * 3600 + m * 60 + s;
};

test("a kept run counts down in its header, an admin's Extend moves the owner's countdown live, and at zero the run is terminated by system", async ({
  browser,
  server,
}) => {
  test.setTimeout(240_000);
  const owner = await api(server, "member");
  const runId = await launchRun(owner, {
    module: TUTORIAL,
    keepRunning: "always",
    // 25 s once kept: time to look, extend and see it end (fractional hours: the limit's unit)
    keptMaxHours: 25 / 3600,
    tags: ["e2e-kept-expiry"],
  });

  const { page: alice, p: a } = await openRun(browser, server, "member", runId);
  const { page: admin, p: b } = await openRun(browser, server, "admin", runId);
  for (const p of [a, b]) await expect(p.state).toHaveText("Ready", { timeout: 120_000 });

  const countdownA = alice.getByTestId("kept-countdown");
  const countdownB = admin.getByTestId("kept-countdown");
  await expect(countdownA).toContainText(/Kept for debugging — terminates in 00:00:\d\d/);
  await expect(countdownB).toContainText(/terminates in 00:00:\d\d/);
  // it counts down by itself, between pushes
  const first = secondsOf((await countdownA.getByRole("timer").textContent()) ?? "");
  await expect
    .poll(async () => secondsOf((await countdownA.getByRole("timer").textContent()) ?? ""), { timeout: 5_000 })
    .toBeLessThan(first);

  // the admin extends it by about 20 s: the owner's countdown jumps without a reload
  const before = secondsOf((await countdownA.getByRole("timer").textContent()) ?? "");
  await countdownB.getByRole("button", { name: "Extend" }).click();
  const dialog = admin.getByRole("dialog", { name: "Keep this run longer?" });
  await dialog.getByLabel("Hours").fill(String(20 / 3600));
  await dialog.getByRole("button", { name: "Extend" }).click();
  await expect(dialog).toHaveCount(0);
  await expect
    .poll(async () => secondsOf((await countdownA.getByRole("timer").textContent()) ?? ""), { timeout: 10_000 })
    .toBeGreaterThan(before + 10);
  const extended = a.events.filter({ hasText: "Kept longer" });
  await expect(extended).toHaveCount(1);
  await expect(extended.locator(".actor")).toHaveText(server.admin.username);
  await alice.screenshot({ path: readmePicture("kept-expiry"), fullPage: false });

  // the countdown runs out: the server terminates the run, every watcher sees why and who
  for (const p of [a, b]) {
    await expect(p.state).toHaveText("Done", { timeout: 90_000 });
    const why = p.events.filter({ hasText: /Kept-run expiry: kept for [\d.]+ h, its limit: terminated/ });
    await expect(why).toHaveCount(1);
    await expect(why.locator(".actor")).toHaveText("system");
    await expect(p.events.filter({ hasText: "Terminate requested" }).locator(".actor")).toHaveText("system");
  }
  await expect(countdownA).toHaveCount(0);
  await expect(countdownB).toHaveCount(0);
  await alice.context().close();
  await admin.context().close();
});
