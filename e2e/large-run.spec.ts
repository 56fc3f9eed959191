import fs from "node:fs";
import path from "node:path";
import { list } from "tar";
import { api, expect, runPage, signedIn, test } from "./fixtures";

const WORKERS = 30;
const FAILING = 23;
const SHOTS = "/tmp/shots-large";

// every worker but one succeeds; that one fails only once all the others are done, so every other worker ends
// with its recipe run whatever the machine's load, and the failure is the only one
const WORKER = `kind: image
parameters:
  - { name: done, category: output }
targets:
  execute: |
    #!/bin/sh -e
    n=\${SLIPSTREAM_NODE_INSTANCE_NAME#worker.}
    echo "worker $n starts"
    if [ "$n" = ${FAILING} ]; then
      i=1
      while [ $i -le ${WORKERS} ]; do
        [ $i = ${FAILING} ] || ss-get --timeout 300 worker.$i:done >/dev/null
        i=$((i + 1))
      done
      ss-set statecustom "disk full on worker $n"
      echo "worker $n: no space left on device" >&2
      ss-abort "worker.$n: no space left on device"
      exit 1
    fi
    ss-set statecustom "worked"
    ss-set done yes
  report: |
    #!/bin/sh -e
    echo "$SLIPSTREAM_NODE_INSTANCE_NAME" > "$SLIPSTREAM_REPORT_DIR/who.txt"
`;
const HUB = 'kind: image\ntargets:\n  execute: |\n    #!/bin/sh\n    echo "hub up"\n';

test("a 31-instance run: tiles grouped per node with counts and the failure first, a keyboard-operated detail panel, events filtered, logs searched, reports grouped and downloaded", async ({
  browser,
  server,
}) => {
  test.setTimeout(300_000);
  fs.mkdirSync(SHOTS, { recursive: true });
  const member = await api(server, "member");
  const imported = await member.call("POST", "/api/modules/import", {
    files: [
      { path: "e2e-large/worker", yaml: WORKER },
      { path: "e2e-large/hub", yaml: HUB },
      {
        path: "e2e-large/system",
        yaml: `kind: deployment\nnodes:\n  hub: { image: hub, multiplicity: 1 }\n  worker: { image: worker, multiplicity: ${WORKERS} }\n`,
      },
    ],
  });
  expect(imported.status, JSON.stringify(imported.body)).toBe(200);
  const run = await member.call<{ id: string }>("POST", "/api/runs", {
    module: "e2e-large/system",
    keepRunning: "never",
  });
  expect(run.status, JSON.stringify(run.body)).toBe(201);
  const runId = run.body.id;

  const page = await signedIn(browser, server, "member");
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`/runs/${runId}`);
  const rp = runPage(page);
  // the run ends before the spec does, so the server closes on no machine of it
  await expect(rp.state).toHaveText("Aborted", { timeout: 180_000 });
  const tiles = page.getByTestId("instance-tiles");
  await expect(tiles).toBeVisible();
  await expect(page.getByTestId("run-diagram")).toHaveCount(0);

  // grouped per node with counts; the failed worker first though its index is 23
  const workerTiles = tiles.locator('[data-node="worker"] button.tile');
  await expect(workerTiles).toHaveCount(WORKERS);
  await expect(workerTiles.first()).toHaveAttribute("data-instance", `worker.${FAILING}`);
  await expect(workerTiles.first()).toHaveAttribute("data-tone", "failed");
  await expect(workerTiles.nth(1)).toHaveAttribute("data-instance", "worker.1");
  await expect(tiles.locator('[data-tone="failed"]')).toHaveCount(1);
  const counts = page.getByTestId("tile-counts-worker");
  await expect(counts).toHaveText(/ · 1 failed$/);
  const counted = ((await counts.textContent()) ?? "")
    .split(" · ")
    .reduce((n, part) => n + Number(part.split(" ")[0]), 0);
  expect(counted).toBe(WORKERS);
  await expect(page.getByTestId("tile-counts-hub")).toHaveText(/^1 \w/);
  await expect(workerTiles.first()).toHaveAccessibleName(`worker.${FAILING}: failed — disk full on worker ${FAILING}`);
  await page.screenshot({ path: path.join(SHOTS, "tiles.png"), fullPage: false });
  await tiles.screenshot({ path: path.join(SHOTS, "tiles-only.png") });

  // the keyboard opens an instance's detail panel, Escape closes it and the focus is back on the tile
  const failedTile = tiles.locator(`[data-instance="worker.${FAILING}"]`);
  await workerTiles.nth(1).focus();
  await page.keyboard.press("Shift+Tab");
  await expect(failedTile).toBeFocused();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: `worker.${FAILING}` });
  await expect(dialog).toBeVisible();
  // it opens at its top, focus on its summary: Tab goes on into the panel, never behind it
  await expect(dialog.locator("[data-autofocus]")).toBeFocused();
  await expect(dialog.getByTestId("instance-detail-state")).toHaveText(`failed — disk full on worker ${FAILING}`);
  await expect(dialog.locator(`[data-detail-param="worker.${FAILING}:statecustom"] td`)).toHaveText(
    `disk full on worker ${FAILING}`,
  );
  await expect(dialog.getByTestId("log-output")).toContainText(`worker ${FAILING}: no space left on device`);
  await expect(dialog.getByTestId("instance-detail-reports").getByRole("link")).toHaveText([
    new RegExp(`^worker\\.${FAILING}_report_`),
  ]);
  await dialog.screenshot({ path: path.join(SHOTS, "detail.png") });
  await page.keyboard.press("Escape");
  await expect(page.getByRole("dialog")).toHaveCount(0);
  await expect(failedTile).toBeFocused();
  // Space opens another one, just as well
  await page.keyboard.press("Tab");
  await expect(workerTiles.nth(1)).toBeFocused();
  await page.keyboard.press(" ");
  await expect(page.getByRole("dialog", { name: "worker.1" })).toBeVisible();
  await page.getByRole("dialog").getByRole("button", { name: "Close" }).click();
  await expect(workerTiles.nth(1)).toBeFocused();

  // events: by instance, by kind and by text, together
  const filter = page.getByTestId("event-filter");
  const all = await rp.events.count();
  await filter.getByTestId("event-filter-instance").fill(`worker.${FAILING}`);
  await expect.poll(() => rp.events.count()).toBeLessThan(all);
  await filter.getByTestId("event-filter-kind").selectOption("abort");
  await expect(rp.events).toHaveCount(1);
  await expect(rp.events).toContainText("no space left on device");
  await expect(filter.getByTestId("event-filter-status")).toHaveText("1 matching");
  await filter.getByRole("button", { name: "Clear" }).click();
  await expect(rp.events).toHaveCount(all);
  await filter.getByTestId("event-filter-text").fill("disk full on worker");
  await expect(rp.events).not.toHaveCount(0);
  for (const text of await rp.events.allTextContents()) expect(text).toContain("disk full on worker");
  await filter.getByTestId("event-filter-instance").fill("worker.99");
  await expect(filter.getByTestId("event-filter-status")).toContainText("no instance is named “worker.99”");
  await filter.getByRole("button", { name: "Clear" }).click();

  // logs: typing part of a name picks the instance
  const search = page.getByTestId("log-search");
  const picked = page.getByTestId("log-instance");
  await search.fill(String(FAILING));
  await expect(picked).toHaveValue(`worker.${FAILING}`);
  await expect(page.getByTestId("log-matches")).toHaveText(`1 of ${WORKERS + 1} match`);
  await expect(page.locator(".logs-section").getByTestId("log-output")).toContainText("no space left on device");
  await search.fill("worker.2");
  await expect(page.getByTestId("log-matches")).toHaveText(`11 of ${WORKERS + 1} match`);
  await expect(picked).toHaveValue("worker.2");
  await expect(picked.locator("option")).toHaveCount(11);
  await picked.selectOption("worker.27");
  await expect(page.locator(".logs-section").getByTestId("log-output")).toContainText("worker 27 starts");
  await search.fill("nobody");
  await expect(page.getByTestId("log-matches")).toHaveText("no instance matches “nobody”");
  // nothing matching keeps the log that was shown
  await expect(picked).toHaveValue("worker.27");
  await page.locator(".logs-section").screenshot({ path: path.join(SHOTS, "logs.png") });

  // reports: one group per instance in the run's order (worker.10 after worker.9), the orchestrator's last
  const groups = page.getByTestId("reports").locator("[data-report-group]");
  await expect(groups.first()).toHaveAttribute("data-report-group", "hub.1");
  const order = await groups.evaluateAll((els) => els.map((e) => e.getAttribute("data-report-group")));
  expect(order).toEqual(["hub.1", ...Array.from({ length: WORKERS }, (_, k) => `worker.${k + 1}`), "orchestrator"]);
  const archive = page.getByTestId("reports-archive");
  const [download] = await Promise.all([page.waitForEvent("download"), archive.click()]);
  expect(download.suggestedFilename()).toBe(`${runId}_reports.tgz`);
  const names: string[] = [];
  await list({ file: await download.path(), onReadEntry: (e) => names.push(e.path) });
  expect(names.sort()).toEqual((await rp.reports.allTextContents()).map((n) => `${runId}/${n.trim()}`).sort());
  expect(names.length).toBeGreaterThanOrEqual(WORKERS + 2);
  await page.getByTestId("reports").screenshot({ path: path.join(SHOTS, "reports.png") });
  await page.screenshot({ path: path.join(SHOTS, "page.png"), fullPage: true });
  await page.context().close();
});
