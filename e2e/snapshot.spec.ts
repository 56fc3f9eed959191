import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { api, expect, readmeScreenshot, reloadOnNetworkChange, runPage, signedIn, TUTORIAL, test } from "./fixtures";

test("snapshot: Export on the run page downloads the run's history; /runs/snapshot opens it offline, read-only, and replays it", async ({
  browser,
  server,
}) => {
  const member = await api(server, "member");
  const created = await member.call<{ id: string }>("POST", "/api/runs", { module: TUTORIAL, keepRunning: "never" });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const runId = created.body.id;

  const page = await signedIn(browser, server, "member");
  const ui = runPage(page);
  await page.goto(`/runs/${runId}`);
  await expect(ui.state).toHaveText("Done", { timeout: 60_000 });
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "Export snapshot" }).click(),
  ]);
  expect(download.suggestedFilename()).toBe(`${runId}_snapshot.json`);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ss-snapshot-")), "run.json");
  await download.saveAs(file);

  // opened in a browser with no session at all: nothing it shows comes from the server
  const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } });
  const offline = reloadOnNetworkChange(await context.newPage());
  const apiCalls: string[] = [];
  offline.on("request", (r) => {
    if (new URL(r.url()).pathname.startsWith("/api/runs")) apiCalls.push(r.url());
  });
  await offline.goto("/runs/snapshot");
  const bad = path.join(path.dirname(file), "bad.json");
  fs.writeFileSync(bad, JSON.stringify({ format: "slipstream-run-snapshot", version: 1 }));
  await offline.getByTestId("snapshot-file").setInputFiles(bad);
  await expect(offline.getByTestId("snapshot-problem")).toContainText("bad.json: not a run snapshot");
  await expect(offline.getByTestId("snapshot-problem")).toContainText("exportedAt");

  await offline.getByTestId("snapshot-file").setInputFiles(file);
  const o = runPage(offline);
  await expect(offline.getByTestId("snapshot-banner")).toContainText(`Snapshot of run ${runId}, exported by alice`);
  await expect(o.state).toHaveText("Done");
  await expect(o.param("apache.1:ready")).toHaveText("true");
  await expect(offline.getByTestId("reports").locator("li")).toHaveCount(3);
  // nothing can be steered from a file
  await expect(o.button("Terminate")).toBeDisabled();

  // the slider replays it here: the first event is the run being created, before any parameter or report
  const slider = offline.getByTestId("replay-slider");
  await slider.focus();
  await offline.keyboard.press("Home");
  await expect(offline.getByTestId("replay-at")).toHaveText("1");
  await expect(o.state).toHaveText("Initializing");
  await expect(o.param("apache.1:ready")).toHaveText("not set");
  await expect(o.reportsEmpty).toBeVisible();
  // state changes one after the other: Initializing (its own event after the creation), then Provisioning
  await offline.getByRole("button", { name: "Next state change" }).click();
  await expect(o.state).toHaveText("Initializing");
  await offline.getByRole("button", { name: "Next state change" }).click();
  await expect(o.state).toHaveText("Provisioning");
  await readmeScreenshot(offline, "snapshot");
  await offline.getByRole("button", { name: "Back to live" }).click();
  await expect(o.state).toHaveText("Done");
  expect(apiCalls).toEqual([]);
  await context.close();
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
});
