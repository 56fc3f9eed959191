import type { RunDetail } from "../protocol/run.js";
import { RunWatcher } from "../server/testing/watch.js";
import { type InstanceMemory, instanceMemory } from "./instance-memory.js";
import { sleep } from "./lib.js";
import type { ChildServer } from "./local-runs.js";

/**
 * A run of 1 server + `clients` clients of bench/scale kept in Ready (every instance up, its recipes done), settled a
 * moment (start-up garbage collected), then `measure` (given the seconds from launch to Ready); the run is ended
 * before returning, so the server may stop.
 */
export async function keptScaleRun<T>(
  s: ChildServer,
  clients: number,
  measure: (launchToReadyS: number) => T | Promise<T>,
): Promise<T> {
  const t0 = Date.now();
  const created = await s.api<RunDetail>("POST", "/api/runs", {
    module: "bench/scale",
    multiplicity: { client: clients },
    keepRunning: "always",
  });
  if (created.status !== 201) throw new Error(`run creation failed: ${JSON.stringify(created.body)}`);
  const w = new RunWatcher(s.url, s.token, created.body.id);
  try {
    await w.state("Ready");
    const readyS = (Date.now() - t0) / 1000;
    await sleep(3000);
    return await measure(readyS);
  } finally {
    await s.api("POST", `/api/runs/${created.body.id}/terminate`);
    await w.ended().finally(() => w.close());
  }
}

/** What each instance of a kept bench/scale run takes with all its processes. */
export function memoryRun(s: ChildServer, dataDir: string, clients: number): Promise<InstanceMemory> {
  return keptScaleRun(s, clients, () => instanceMemory(dataDir, clients + 1));
}
