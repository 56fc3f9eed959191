import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunEvent } from "../../protocol/run.js";
import { runEnds, startTestServer, type TestServer } from "../testing/harness.js";
import { holdingRun, hostedRun, importHoldingImage } from "../testing/holding-run.js";
import { hostPids, leftovers } from "../testing/run-host.js";

/**
 * Run-rules R19 with one agent host per run (agent/host.ts): the host killed (kill -9) takes every instance's agent
 * with it. Each is lost after the run's grace, the run aborts, and nothing of its machines is left behind: no process,
 * no control socket, no cgroup, no network namespace, no run directory.
 */

const INSTANCES = ["machine.1", "machine.2"];

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ killGraceSeconds: 2, local: { agents: "per-run" } });
  await importHoldingImage(s);
});
afterAll(() => s.close({ stopInstances: true }));

const instanceEvent = (instance: string, status: string) => (e: RunEvent) =>
  e.body.type === "instance" && e.body.instance === instance && e.body.status === status;

describe("the run's agent host killed", () => {
  it("R19 kill -9 of the host: every instance lost after the grace, the run aborts, nothing of its machines is left", async () => {
    const { run, watcher } = await holdingRun(s, INSTANCES.length, { lostAfterSeconds: 2 });
    try {
      const hosted = await hostedRun(s, run);
      if (!hosted) return;
      const { host, before } = hosted;
      for (const [i, pids] of before.processes) expect(pids.length, `processes of ${i}'s machine`).toBeGreaterThan(0);

      const killedAt = Date.now();
      process.kill(host, "SIGKILL");
      for (const i of INSTANCES) {
        const unresponsive = await watcher.until(instanceEvent(i, "unresponsive"));
        expect(Date.parse(unresponsive.at) - killedAt).toBeLessThan(10_000);
        const lost = await watcher.until(instanceEvent(i, "lost"));
        expect(Date.parse(lost.at) - Date.parse(unresponsive.at)).toBeGreaterThanOrEqual(1_900);
      }
      const end = await runEnds(s, run.id);
      expect(end.state).toBe("Aborted");
      expect(end.abort).toMatch(/^agent of machine\.[12] lost$/);
      expect(end.instances.map((i) => i.liveness)).toEqual(["lost", "lost"]);
      const params = (
        await s.api<{ params: { key: string; value: string | null }[] }>("GET", `/api/runs/${run.id}/params`)
      ).body.params;
      for (const i of INSTANCES) {
        expect(params.find((p) => p.key === `${i}:abort`)?.value).toBe(`agent of ${i} lost`);
      }
      // each instance stopped by the local cloud (the event follows the connector's stop)
      for (const i of INSTANCES) await watcher.until(instanceEvent(i, "down"));
      expect(await leftovers(before)).toEqual([]);
    } finally {
      watcher.close();
    }
  }, 120_000);

  it("a host frozen (SIGSTOP) when its run is terminated is killed once it serves no instance: nothing is left", async () => {
    const { run, watcher } = await holdingRun(s, INSTANCES.length);
    try {
      const hosted = await hostedRun(s, run);
      if (!hosted) return;
      const { runDir, host, before } = hosted;
      process.kill(host, "SIGSTOP");
      expect((await s.api("POST", `/api/runs/${run.id}/terminate`)).status).toBe(200);
      // each stop waits for the silent host (grace + 10 s), then kills by tag and cgroup; the last one kills the host
      for (const i of INSTANCES) await watcher.until(instanceEvent(i, "down"));
      await runEnds(s, run.id);
      expect(await hostPids(runDir)).toEqual([]);
      expect(await leftovers(before)).toEqual([]);
    } finally {
      watcher.close();
    }
  }, 120_000);
});
