import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TIMEOUT_MESSAGE } from "../../core/run-machine.js";
import type { RunDetail, RunEvent } from "../../protocol/run.js";
import { processesWithEnv } from "../connectors/process-tree.js";
import { runEnds, runReaches, startTestServer, type TestServer } from "../testing/harness.js";
import { importModules } from "../testing/import-modules.js";
import { hostPids } from "../testing/run-host.js";
import { RunWatcher } from "../testing/watch.js";

/**
 * A run whose deadline passes while a recipe still runs (run-rules R15), with real agents on the local cloud: the
 * timeout is an abort like any other — the script is stopped, every node sends its report — and keep-running
 * decides what happens next. The deadline is moved into the past rather than waited for.
 */

const IMAGE = `kind: image
targets:
  execute: |
    #!/bin/sh
    trap 'echo "got TERM"; exit 143' TERM
    ss-display sleeping
    sleep 600 & wait
  report: |
    #!/bin/sh
    echo "report of $SLIPSTREAM_NODE_INSTANCE_NAME" > "$SLIPSTREAM_REPORT_DIR/note.txt"
`;

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ killGraceSeconds: 2 });
  await importModules(s, { "t/slow": IMAGE });
});
afterAll(() => s.close({ stopInstances: true }));

function passDeadline(runId: string): void {
  s.app.db.$client
    .prepare("update runs set deadline_at = ? where id = ?")
    .run(new Date(Date.now() - 1000).toISOString(), runId);
  s.app.deadlines.arm();
}

async function timedOut(keepRunning: string): Promise<RunDetail> {
  const created = await s.api<RunDetail>("POST", "/api/runs", {
    module: "t/slow",
    keepRunning,
    multiplicity: { machine: 2 },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const run = created.body;
  // every script is in its sleep, its TERM trap set
  const watcher = new RunWatcher(s.url, s.token, run.id);
  const sleeping = (_e: RunEvent, all: RunEvent[]) =>
    all.filter((x) => x.body.type === "param" && x.body.key.endsWith(":statecustom") && x.body.value === "sleeping")
      .length === 2;
  await watcher.until(sleeping);
  watcher.close();
  passDeadline(run.id);
  return run;
}

async function reportsOf(runId: string): Promise<string[]> {
  const res = await s.api<{ reports: { name: string }[] }>("GET", `/api/runs/${runId}/reports`);
  return res.body.reports.map((r) => r.name.replace(/_report_.*/, ""));
}

describe("a run that times out", () => {
  it("under on-error stays in Ready, aborted 'The run has timed out', with every node's report, to debug", async () => {
    const run = await timedOut("on-error");
    const ready = await runReaches(s, run.id, "Ready");
    expect(ready.abort).toBe(TIMEOUT_MESSAGE);
    // kept in Ready: the orchestrator's report is written there too (the final one comes at Finalizing)
    const watcher = new RunWatcher(s.url, s.token, run.id);
    await watcher.until((e) => e.body.type === "report" && e.body.instance === null);
    watcher.close();
    expect((await reportsOf(run.id)).sort()).toEqual(["machine.1", "machine.2", "orchestrator"]);
    // the script was stopped, not left running: TERM reached it
    const events = (
      await s.api<{ events: { body: { type: string; data?: string } }[] }>(
        "GET",
        `/api/runs/${run.id}/events?limit=1000`,
      )
    ).body.events;
    expect(events.some((e) => e.body.type === "log" && e.body.data?.includes("got TERM"))).toBe(true);
    // still there for debugging: the deadline's grace does not apply in Ready
    passDeadline(run.id);
    await new Promise((r) => setTimeout(r, 200));
    expect((await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.state).toBe("Ready");
    expect((await s.api("POST", `/api/runs/${run.id}/terminate`)).status).toBe(200);
    expect((await runEnds(s, run.id)).state).toBe("Aborted");
  });

  it("under never ends Aborted with every node's report and the orchestrator's", async () => {
    const run = await timedOut("never");
    const end = await runEnds(s, run.id);
    expect(end).toMatchObject({ state: "Aborted", abort: TIMEOUT_MESSAGE });
    expect((await reportsOf(run.id)).sort()).toEqual(["machine.1", "machine.2", "orchestrator"]);
  });

  it("a node that never answers does not hold the run: once the grace is over too, the run ends Aborted", async () => {
    const created = await s.api<RunDetail>("POST", "/api/runs", { module: "t/slow", keepRunning: "on-error" });
    const run = created.body;
    await runReaches(s, run.id, "Executing");
    // the machine is frozen, its agent with it: it can neither stop its script nor send a report. The run has this
    // one machine, so freezing the run's agent host (the default) silences exactly that node; unsandboxed, the
    // agent is a process of the instance's own, among its tagged processes
    const runDir = path.join(s.dataDir, "instances", run.id);
    const pids = [
      ...(await hostPids(runDir)),
      ...((await processesWithEnv(`SLIPSTREAM_LOCAL_INSTANCE=${path.join(runDir, "machine.1")}`)) ?? []),
    ];
    expect(pids.length).toBeGreaterThan(0);
    const signal = (sig: NodeJS.Signals) => {
      for (const pid of pids) {
        try {
          process.kill(pid, sig);
        } catch {
          // a short-lived helper already gone
        }
      }
    };
    signal("SIGSTOP");
    try {
      passDeadline(run.id);
      await new Promise((r) => setTimeout(r, 300));
      const aborted = (await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
      expect(aborted).toMatchObject({ state: "Executing", abort: TIMEOUT_MESSAGE });
      // the grace passes
      passDeadline(run.id);
      const end = await runEnds(s, run.id);
      expect(end).toMatchObject({ state: "Aborted", abort: TIMEOUT_MESSAGE });
    } finally {
      signal("SIGCONT");
    }
  });
});
