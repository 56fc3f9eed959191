import { afterAll, describe, expect, it } from "vitest";
import type { RunDetail, RunEvent } from "../../protocol/run.js";
import { runEnds, startTestServer, type TestServer } from "../testing/harness.js";
import { holdingRun, importHoldingImage } from "../testing/holding-run.js";
import { RunWatcher } from "../testing/watch.js";

/**
 * Run-rules R19 across a restart: the server's stop and start are in every active run's event log, and an agent
 * that does not reconnect gets the run's grace counted from the server's start, then is lost.
 */

const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers.reverse()) await s.close({ stopInstances: true }).catch(() => {});
});

describe("a server restart", () => {
  it("R19 records 'server stopping' and 'server started' on the active run; an agent that does not reconnect is lost after the grace from the start", async () => {
    const first = await startTestServer({ killGraceSeconds: 2 });
    servers.push(first);
    await importHoldingImage(first);
    const { run, watcher: w1 } = await holdingRun(first, 1, { lostAfterSeconds: 2 });
    const runId = run.id;
    w1.close();
    await first.close();
    servers.pop();

    // the run's agent (its host, by default) outlives the first server and keeps looking for it where it was
    const second = await startTestServer({ dataDir: first.dataDir, killGraceSeconds: 2 });
    servers.push(second);
    const w2 = new RunWatcher(second.url, second.token, runId);
    try {
      const server = (e: RunEvent) => (e.body.type === "server" ? [e.body.status] : []);
      await w2.until((e) => e.body.type === "server" && e.body.status === "started");
      expect(w2.events.flatMap(server)).toEqual(["stopping", "started"]);
      const detail = (await second.api<RunDetail>("GET", `/api/runs/${runId}`)).body;
      expect(detail.instances[0].liveness).toBe("unresponsive");
      // the test's second server listens on another port: the agent cannot find it, so its grace runs out
      const lost = await w2.until((e) => e.body.type === "instance" && e.body.status === "lost");
      const started = w2.events.find((e) => e.body.type === "server" && e.body.status === "started")!;
      expect(Date.parse(lost.at) - Date.parse(started.at)).toBeGreaterThanOrEqual(1_900);
      // every agent of the run is gone: the abort still ends it
      expect(await runEnds(second, runId)).toMatchObject({ state: "Aborted", abort: "agent of machine.1 lost" });
    } finally {
      w2.close();
    }
  }, 120_000);
});
