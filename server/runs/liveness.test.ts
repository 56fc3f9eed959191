import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail, RunEvent } from "../../protocol/run.js";
import { runEnds, startTestServer, type TestServer } from "../testing/harness.js";
import { HOLDING_IMAGE_WITH_REPORT } from "../testing/holding-image.js";
import { importHoldingImage, holdingRun as startHoldingRun } from "../testing/holding-run.js";
import { runAgentPids } from "../testing/run-host.js";
import type { RunWatcher } from "../testing/watch.js";

/**
 * Run-rules R19 with real agents on the local cloud as it runs by default (one agent host per run): the run's agents
 * frozen (SIGSTOP) are seen as unresponsive through socket.io's ping/pong and come back if they answer within the
 * run's grace; all of them killed (kill -9), the run is kept or ends as keep-running says. One agent lost among live
 * ones is in liveness-one-agent.test.ts, the host killed with nothing left behind in liveness-host.test.ts.
 */

const INSTANCES = ["machine.1", "machine.2", "machine.3"];

/** Each machine waits in Executing until the test releases it (the tutorial's run is over within a second). */
let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ killGraceSeconds: 2 });
  await importHoldingImage(s, HOLDING_IMAGE_WITH_REPORT);
});
afterAll(() => s.close({ stopInstances: true }));

const instanceEvent = (instance: string, status: string) => (e: RunEvent) =>
  e.body.type === "instance" && e.body.instance === instance && e.body.status === status;

/** Three machines, every script holding in Executing; with the processes that speak for them. */
async function holdingRun(
  lostAfterSeconds: number,
  keepRunning = "never",
): Promise<{ run: RunDetail; watcher: RunWatcher; agents: number[] }> {
  const { run, watcher } = await startHoldingRun(s, INSTANCES.length, { keepRunning, lostAfterSeconds });
  // the run's host (unsandboxed: an agent per instance)
  const agents = await runAgentPids(path.join(s.dataDir, "instances", run.id), INSTANCES);
  expect(agents.length).toBeGreaterThan(0);
  return { run, watcher, agents };
}

describe("a run whose agents stop answering", () => {
  it("R19 SIGSTOP then SIGCONT within the grace: every instance unresponsive, then back, and the run ends Done", async () => {
    const { run, watcher, agents } = await holdingRun(60);
    try {
      const stoppedAt = Date.now();
      for (const pid of agents) process.kill(pid, "SIGSTOP");
      const seen: number[] = [];
      try {
        for (const i of INSTANCES) {
          const unresponsive = await watcher.until(instanceEvent(i, "unresponsive"));
          seen.push(Date.parse(unresponsive.at) - stoppedAt);
        }
      } finally {
        for (const pid of agents) process.kill(pid, "SIGCONT");
      }
      for (const ms of seen) expect(ms).toBeLessThan(10_000);
      console.log(`SIGSTOP → unresponsive ${seen.join(", ")} ms`);
      for (const i of INSTANCES) await watcher.until(instanceEvent(i, "back"));
      for (const i of INSTANCES) {
        const set = await s.api("PUT", `/api/runs/${run.id}/params/${i}:release`, { value: "go" });
        expect(set.status, JSON.stringify(set.body)).toBe(200);
      }
      const end = await runEnds(s, run.id);
      expect(end.state).toBe("Done");
      expect(end.abort).toBeNull();
      expect(watcher.events.some((e) => e.body.type === "instance" && e.body.status === "lost")).toBe(false);
      const reports = (await s.api<{ reports: { name: string }[] }>("GET", `/api/runs/${run.id}/reports`)).body.reports;
      expect(reports.map((r) => r.name.replace(/_report_.*/, "")).sort()).toEqual([...INSTANCES, "orchestrator"]);
    } finally {
      watcher.close();
    }
  }, 120_000);

  it("R19 every agent killed: the run is kept in Ready (keep-running always) and a terminate still ends it", async () => {
    const { run, watcher, agents } = await holdingRun(1, "always");
    try {
      for (const pid of agents) process.kill(pid, "SIGKILL");
      await watcher.until((e) => e.body.type === "kept");
      const ready = (await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
      expect(ready.state).toBe("Ready");
      expect(ready.instances.map((i) => i.liveness)).toEqual(["lost", "lost", "lost"]);
      expect((await s.api("POST", `/api/runs/${run.id}/terminate`)).status).toBe(200);
      expect((await runEnds(s, run.id)).state).toBe("Aborted");
    } finally {
      watcher.close();
    }
  }, 120_000);

  it("R19 lostAfterSeconds is checked", async () => {
    const res = await s.api<{ error: { message: string } }>("POST", "/api/runs", {
      module: "examples/tutorials/service-testing/system",
      lostAfterSeconds: 0,
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/lostAfterSeconds/);
  });
});
