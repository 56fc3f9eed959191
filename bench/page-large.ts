/**
 * Figure 6b (not part of `npm run bench`: 500 real agents would need ~30 GB of memory): the run page of a kept
 * 500-instance run whose machines are test peers speaking the real /agent protocol, opened cold in Chromium.
 * Measures the time from `goto` until the last instance's tile and the run's state are shown, the page's height,
 * and the longest main-thread task of the load; then the time to open an instance's panel from the keyboard.
 * `node --import tsx bench/page-large.ts [N]` (the UI must be built: node scripts/ensure-build.mjs)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { CHROMIUM, CHROMIUM_ARGS } from "../e2e/chromium.js";
import type { RunDetail } from "../protocol/run.js";
import { startServer } from "../server/app.js";
import { AgentPeer, PeerCloud, runReaches, type TestServer } from "../server/testing/harness.js";
import { callJson } from "../server/testing/json-api.js";
import { nowMs, stats } from "./lib.js";

const N = Number(process.argv[2] ?? 500);
const PASSWORD = "bench-admin-password";
const LOADS = 3;
/** instances whose abort flag is raised: the tiles put them first */
const FAILING = [17, 230, 499];

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ss-bench-large-"));
const cloud = new PeerCloud();
const server = await startServer({
  port: 0,
  host: "127.0.0.1",
  dataDir,
  adminPassword: PASSWORD,
  ui: { dev: false },
  log: pino({ level: "silent" }),
  connectors: new Map([["peer", cloud]]),
});
const login = await callJson<{ token: string }>(server.url, "POST", "/api/auth/login", {
  username: "admin",
  password: PASSWORD,
});
const api = <T>(method: string, url: string, body?: unknown) =>
  callJson<T>(server.url, method, url, body, login.body.token);
const peers: AgentPeer[] = [];
try {
  const params = Array.from({ length: 5 }, (_, i) => `  - { name: p${i}, category: output }`).join("\n");
  const imported = await api("POST", "/api/modules/import", {
    files: [
      { path: "bench-large/tile", yaml: `kind: image\nparameters:\n${params}\n` },
      { path: "bench-large/system", yaml: "kind: deployment\nnodes:\n  n: { image: tile }\n" },
    ],
  });
  if (imported.status !== 200) throw new Error(`import: ${JSON.stringify(imported.body)}`);
  const created = await api<RunDetail>("POST", "/api/runs", {
    module: "bench-large/system",
    clouds: { n: "peer" },
    multiplicity: { n: N },
    keepRunning: "always",
  });
  if (created.status !== 201) throw new Error(`run: ${JSON.stringify(created.body)}`);
  const run = created.body;
  const t0 = nowMs();
  for (const i of run.instances) peers.push(new AgentPeer(server.url, (await cloud.launched(i.name)).token));
  console.error(`${peers.length} peers connected`);
  await Promise.all(peers.map((p) => p.completeWhen("Provisioning")));
  console.error("provisioned");
  await Promise.all(
    peers.map(async (p, k) => {
      await p.until((st) => st.state === "Executing");
      const name = run.instances[k].name;
      for (let i = 0; i < 5; i++) await p.call("param:set", { key: `${name}:p${i}`, value: `v${i}` });
      await p.call("param:set", { key: `${name}:statecustom`, value: `worked on ${name}` });
    }),
  );
  console.error("parameters set");
  await Promise.all(peers.map((p) => p.completeWhen("Executing")));
  await Promise.all(peers.map((p) => p.completeWhen("SendingReports")));
  await runReaches({ ...server, api } as unknown as TestServer, run.id, "Ready");
  // a few instances abort in Ready (their own flag marks them failed): the kept run stays in Ready
  for (const k of FAILING) if (k <= N) await peers[k - 1].call("run:abort", { message: `n.${k} gave up` });
  console.error(`run of ${N} instances in Ready after ${((nowMs() - t0) / 1000).toFixed(1)} s`);

  const { chromium } = await import("@playwright/test");
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const loads: number[] = [];
  const longest: number[] = [];
  const heights: number[] = [];
  const opens: number[] = [];
  try {
    // one load first, not counted: Next.js loads the route's modules on its first request
    for (let k = -1; k < LOADS; k++) {
      const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } });
      const res = await context.request.post("/api/auth/session", { data: { username: "admin", password: PASSWORD } });
      if (!res.ok()) throw new Error(`sign-in: ${res.status()}`);
      const page = await context.newPage();
      await page.addInitScript(() => {
        const w = window as unknown as { __longTasks: number[] };
        w.__longTasks = [];
        new PerformanceObserver((l) => {
          for (const e of l.getEntries()) w.__longTasks.push(e.duration);
        }).observe({ type: "longtask", buffered: true });
      });
      const start = nowMs();
      await page.goto(`/runs/${run.id}`, { waitUntil: "commit" });
      await page.locator(`[data-instance="n.${N}"]`).waitFor({ state: "attached", timeout: 120_000 });
      await page.locator(".run-state .state").filter({ hasText: "Ready" }).waitFor({ timeout: 120_000 });
      const loaded = nowMs() - start;
      // the parameters and events that arrive after the tiles are part of the load: let them land
      await page.waitForTimeout(1500);
      const height = await page.evaluate(() => document.documentElement.scrollHeight);
      // where the height goes: each card of the page with its heading
      const parts = await page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>(".run-page > *, .run-col > *")]
          .map((el) => ({
            part: (el.querySelector("h2")?.textContent ?? el.className).trim().slice(0, 40),
            px: Math.round(el.getBoundingClientRect().height),
          }))
          .filter((x) => x.px >= 200),
      );
      if (k === 0) console.error(JSON.stringify(parts));
      const tasks = await page.evaluate(() => (window as unknown as { __longTasks: number[] }).__longTasks);
      const tile = page.locator(`[data-instance="n.${FAILING[0]}"]`);
      await tile.focus();
      const open0 = nowMs();
      await page.keyboard.press("Enter");
      await page.getByRole("dialog", { name: `n.${FAILING[0]}` }).waitFor();
      const opened = nowMs() - open0;
      if (k >= 0) {
        loads.push(loaded);
        heights.push(height);
        longest.push(Math.max(0, ...tasks));
        opens.push(opened);
      }
      await context.close();
    }
  } finally {
    await browser.close();
  }
  const l = stats(loads);
  const o = stats(opens);
  console.log(
    JSON.stringify(
      {
        instances: N,
        timeToDataMs: { median: l.median, p10: l.p10, p90: l.p90, n: LOADS },
        pageHeightPx: heights,
        longestTaskMs: longest,
        openPanelMs: { median: o.median, samples: opens },
      },
      null,
      1,
    ),
  );
  await api("POST", `/api/runs/${run.id}/terminate`);
} finally {
  for (const p of peers) p.close();
  await server.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);
