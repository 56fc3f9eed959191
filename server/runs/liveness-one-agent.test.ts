import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail, RunEvent } from "../../protocol/run.js";
import { processesWithEnv } from "../connectors/process-tree.js";
import { runEnds, startTestServer, type TestServer } from "../testing/harness.js";
import { HOLDING_IMAGE_WITH_REPORT } from "../testing/holding-image.js";
import { RunWatcher } from "../testing/watch.js";

/**
 * Run-rules R19 with real agents on the local cloud: one machine's agent killed (kill -9) while the others go on is
 * seen as unresponsive through socket.io's ping/pong, is lost past the run's grace, and the survivors still send
 * their reports. The run's own behaviour with the default agents (one host per run) is in liveness.test.ts.
 */

let s: TestServer;
beforeAll(async () => {
  // one agent lost among live ones is the point: only a Node agent per instance can die alone (a run's agent host
  // takes every instance with it, liveness-host.test.ts), whatever SLIPSTREAM_LOCAL_AGENTS says
  s = await startTestServer({ killGraceSeconds: 2, local: { agents: "per-instance" } });
  const res = await s.api("POST", "/api/modules/import", {
    files: [{ path: "t/hold", yaml: HOLDING_IMAGE_WITH_REPORT }],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
});
afterAll(() => s.close({ stopInstances: true }));

/** The agent process of an instance (not its scripts, nor the sandbox around it). */
async function agentPid(runId: string, instance: string): Promise<number> {
  const hostDir = path.join(s.dataDir, "instances", runId, instance);
  const pids = (await processesWithEnv(`SLIPSTREAM_LOCAL_INSTANCE=${hostDir}`)) ?? [];
  for (const pid of pids) {
    const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    // the agent itself, not the sandbox (bwrap) that launched it with the same command line at its end
    if (cmd.split("\0")[0].endsWith("node") && cmd.includes("agent.mjs")) return pid;
  }
  throw new Error(`no agent process for ${instance} among ${pids.join(", ")}`);
}

const instanceEvent = (instance: string, status: string) => (e: RunEvent) =>
  e.body.type === "instance" && e.body.instance === instance && e.body.status === status;

describe("one machine's agent killed", () => {
  it("R19 kill -9: unresponsive within 10 s, lost after the grace; the run ends Aborted with the survivors' reports", async () => {
    const created = await s.api<RunDetail>("POST", "/api/runs", {
      module: "t/hold",
      multiplicity: { machine: 3 },
      keepRunning: "never",
      lostAfterSeconds: 2,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const run = created.body;
    const watcher = new RunWatcher(s.url, s.token, run.id);
    try {
      await watcher.until(
        (_e, all) =>
          all.filter(
            (x) => x.body.type === "param" && x.body.key.endsWith(":statecustom") && x.body.value === "holding",
          ).length === 3,
      );
      const pid = await agentPid(run.id, "machine.1");
      const killedAt = Date.now();
      process.kill(pid, "SIGKILL");
      const unresponsive = await watcher.until(instanceEvent("machine.1", "unresponsive"));
      const seen = Date.parse(unresponsive.at) - killedAt;
      expect(seen).toBeLessThan(10_000);
      const during = (await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
      expect(during.instances.find((i) => i.name === "machine.1")?.liveness).toBe("unresponsive");
      const lost = await watcher.until(instanceEvent("machine.1", "lost"));
      const lostAfter = Date.parse(lost.at) - Date.parse(unresponsive.at);
      expect(lostAfter).toBeGreaterThanOrEqual(1_900);
      console.log(`kill -9 → unresponsive ${seen} ms, → lost ${lostAfter} ms later`);
      const end = await runEnds(s, run.id);
      expect(end).toMatchObject({ state: "Aborted", abort: "agent of machine.1 lost" });
      expect(end.instances.find((i) => i.name === "machine.1")?.liveness).toBe("lost");
      const params = (
        await s.api<{ params: { key: string; value: string | null }[] }>("GET", `/api/runs/${run.id}/params`)
      ).body.params;
      expect(params.find((p) => p.key === "machine.1:abort")?.value).toBe("agent of machine.1 lost");
      const reports = (await s.api<{ reports: { name: string }[] }>("GET", `/api/runs/${run.id}/reports`)).body.reports;
      expect(reports.map((r) => r.name.replace(/_report_.*/, "")).sort()).toEqual([
        "machine.2",
        "machine.3",
        "orchestrator",
      ]);
    } finally {
      watcher.close();
    }
  }, 120_000);
});
