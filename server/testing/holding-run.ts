import { expect } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import type { TestServer } from "./harness.js";
import { HOLDING_IMAGE } from "./holding-image.js";
import { RunWatcher } from "./watch.js";

/** Imports a holding image (holding-image.ts) as `t/hold` on the test's server. */
export async function importHoldingImage(s: TestServer, yaml = HOLDING_IMAGE): Promise<void> {
  const res = await s.api("POST", "/api/modules/import", { files: [{ path: "t/hold", yaml }] });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
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
