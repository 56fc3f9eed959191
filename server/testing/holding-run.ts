import { existsSync } from "node:fs";
import path from "node:path";
import { expect } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { hostSocketPath } from "../connectors/local-host.js";
import type { TestServer } from "./harness.js";
import { HOLDING_IMAGE } from "./holding-image.js";
import { importModules } from "./import-modules.js";
import { footprint, hostPids, type RunFootprint } from "./run-host.js";
import { RunWatcher } from "./watch.js";

/** Imports a holding image (holding-image.ts) as `t/hold` on the test's server. */
export async function importHoldingImage(s: TestServer, yaml = HOLDING_IMAGE): Promise<void> {
  await importModules(s, { "t/hold": yaml });
}

/** Resolves once `count` machines of the run have said `holding` (each script blocked in its `ss-get`). */
export function everyMachineHolds(watcher: RunWatcher, count: number): Promise<unknown> {
  return watcher.until(
    (_e, all) =>
      all.filter((x) => x.body.type === "param" && x.body.key.endsWith(":statecustom") && x.body.value === "holding")
        .length === count,
  );
}

/**
 * A run of `machines` machines of `t/hold` (importHoldingImage), resolved once every one holds, with its watcher
 * (the caller closes it).
 */
export async function holdingRun(
  s: TestServer,
  machines: number,
  opts: { keepRunning?: string; lostAfterSeconds?: number } = {},
): Promise<{ run: RunDetail; watcher: RunWatcher }> {
  const created = await s.api<RunDetail>("POST", "/api/runs", {
    module: "t/hold",
    multiplicity: { machine: machines },
    keepRunning: opts.keepRunning ?? "never",
    ...(opts.lostAfterSeconds === undefined ? {} : { lostAfterSeconds: opts.lostAfterSeconds }),
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const watcher = new RunWatcher(s.url, s.token, created.body.id);
  await everyMachineHolds(watcher, machines);
  return { run: created.body, watcher };
}

/**
 * A started run's one agent host (agent/host.ts) and what its machines hold, to kill the host and look for leftovers
 * after. Null where the local cloud is not sandboxed: each instance then has a Node agent of its own, no host.
 */
export async function hostedRun(
  s: TestServer,
  run: RunDetail,
): Promise<{ runDir: string; host: number; before: RunFootprint } | null> {
  const runDir = path.join(s.dataDir, "instances", run.id);
  if (!existsSync(hostSocketPath(runDir))) {
    console.log("local cloud not sandboxed here: no agent host");
    return null;
  }
  const hosts = await hostPids(runDir);
  expect(hosts).toHaveLength(1);
  const names = run.instances.map((i) => i.name);
  return { runDir, host: hosts[0], before: await footprint(s.dataDir, run.id, names) };
}
