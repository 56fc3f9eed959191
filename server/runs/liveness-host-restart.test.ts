import { afterAll, describe, expect, it } from "vitest";
import type { RunEvent } from "../../protocol/run.js";
import { runEnds, startTestServer, type TestServer } from "../testing/harness.js";
import { holdingRun, hostedRun, importHoldingImage } from "../testing/holding-run.js";
import { leftovers } from "../testing/run-host.js";
import { RunWatcher } from "../testing/watch.js";

/**
 * Run-rules R19 across a restart with one agent host per run: the host outlives the server by design, so when it
 * dies while the server is down (kill -9), the next server must count the grace from its start for every instance,
 * abort the run, and clean up what the dead host left: its control socket and the run's directory included.
 */

const INSTANCES = ["machine.1", "machine.2"];

const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers.reverse()) await s.close({ stopInstances: true }).catch(() => {});
});

const instanceEvent = (instance: string, status: string) => (e: RunEvent) =>
  e.body.type === "instance" && e.body.instance === instance && e.body.status === status;

describe("a server restart with the run's agent host killed meanwhile", () => {
  it("R19 every instance lost after the grace from the start, the run aborts, nothing of its machines is left", async () => {
    const first = await startTestServer({ killGraceSeconds: 2, local: { agents: "per-run" } });
    servers.push(first);
    await importHoldingImage(first);
    const { run, watcher: w1 } = await holdingRun(first, INSTANCES.length, { lostAfterSeconds: 2 });
    const runId = run.id;
    w1.close();
    const hosted = await hostedRun(first, run);
    await first.close();
    servers.pop();
    if (!hosted) {
      const again = await startTestServer({
        dataDir: first.dataDir,
        killGraceSeconds: 2,
        local: { agents: "per-run" },
      });
      servers.push(again);
      await again.api("POST", `/api/runs/${runId}/terminate`);
      await runEnds(again, runId);
      return;
    }
    // the host outlived the server, its machines with it; then it dies while no server is there to see it
    process.kill(hosted.host, "SIGKILL");

    const second = await startTestServer({ dataDir: first.dataDir, killGraceSeconds: 2, local: { agents: "per-run" } });
    servers.push(second);
    const w2 = new RunWatcher(second.url, second.token, runId);
    try {
      const started = await w2.until((e) => e.body.type === "server" && e.body.status === "started");
      for (const i of INSTANCES) {
        const lost = await w2.until(instanceEvent(i, "lost"));
        expect(Date.parse(lost.at) - Date.parse(started.at)).toBeGreaterThanOrEqual(1_900);
      }
      const end = await runEnds(second, runId);
      expect(end.state).toBe("Aborted");
      expect(end.abort).toMatch(/^agent of machine\.[12] lost$/);
      expect(end.instances.map((i) => i.liveness)).toEqual(["lost", "lost"]);
      for (const i of INSTANCES) await w2.until(instanceEvent(i, "down"));
      expect(await leftovers(hosted.before)).toEqual([]);
    } finally {
      w2.close();
    }
  }, 120_000);
});
