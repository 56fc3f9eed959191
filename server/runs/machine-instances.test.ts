import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { RunContext } from "../../core/run-context.js";
import { persistRun } from "../../core/run-persistence.js";
import { ROOT } from "../root.js";
import { PeerCloud, type TestServer } from "../testing/harness.js";
import { serverPerTest, tutorialRun } from "../testing/per-test.js";
import { MachineInstanceStatements } from "./machine-instances.js";

const t = serverPerTest();

/** What the database holds of the run's machine, restored as a restart restores it. */
function stored(s: TestServer, runId: string): string {
  const row = s.app.db.$client.prepare("select snapshot from runs where id = ?").get(runId) as { snapshot: string };
  return JSON.stringify(persistRun(new MachineInstanceStatements(s.app.db.$client).restore(runId, row.snapshot)));
}

const machine = (s: TestServer, runId: string) => JSON.stringify(persistRun(s.app.runs.get(runId).snapshot));

/** Instances whose machine state differs between two contexts' instances. */
function changed(a: RunContext["instances"], b: RunContext["instances"]): string[] {
  return [...b.keys()].filter((n) => JSON.stringify(a.get(n)) !== JSON.stringify(b.get(n))).sort();
}

describe("the run machine's snapshot, stored incrementally", () => {
  it("each transition writes the instances it changed and no other; what is stored is the machine's snapshot at every step, and after a restart", async () => {
    const cloud = new PeerCloud();
    let s = await t.boot(cloud);
    const run = await tutorialRun(s, { multiplicity: { client: 4 } });
    const names = run.instances.map((i) => i.name);
    expect(names).toHaveLength(5);
    const sqlite = s.app.db.$client;
    // every row the server writes from here on, by name: a temp trigger of this connection sees the server's writes
    sqlite.exec(`create temp table written (name text);
      create temp trigger written_insert after insert on main.run_machine_instances begin insert into written values (new.name); end;
      create temp trigger written_update after update on main.run_machine_instances begin insert into written values (new.name); end;`);
    const takeWritten = () => {
      const rows = sqlite.prepare("select name from written").all() as { name: string }[];
      sqlite.exec("delete from written");
      return [...new Set(rows.map((r) => r.name))].sort();
    };
    let before = s.app.runs.get(run.id).snapshot.context.instances;
    const steps: { changed: string[]; written: string[]; same: boolean }[] = [];
    // after each commit that moved the machine's context, before anything else runs
    const check = (runId: string) => {
      if (runId !== run.id) return;
      const now = s.app.runs.get(run.id).snapshot.context.instances;
      steps.push({
        changed: changed(before, now),
        written: takeWritten(),
        same: stored(s, run.id) === machine(s, run.id),
      });
      before = now;
    };
    s.app.bus.on("agent-state", check);

    const peers = await Promise.all(names.map(async (n) => t.peer((await cloud.launched(n)).token)));
    await Promise.all(peers.map((p) => p.completeWhen("Provisioning")));
    await Promise.all(peers.map((p) => p.until((st) => st.state === "Executing")));
    s.app.bus.off("agent-state", check);

    // 5 came up, 5 completed Provisioning, and the move to Executing reset them all
    expect(steps.length).toBeGreaterThanOrEqual(6);
    for (const step of steps) {
      expect(step.same).toBe(true);
      expect(step.written).toEqual(step.changed);
    }
    expect(steps.some((st) => st.changed.length === 1)).toBe(true);
    // the run row holds the rest of the snapshot only: its size does not grow with the instances
    const row = sqlite.prepare("select snapshot from runs where id = ?").get(run.id) as { snapshot: string };
    expect(JSON.parse(row.snapshot).context.instances).toEqual({});
    expect(row.snapshot.length).toBeLessThan(1000);

    // one instance completes Executing (a single row), then the server restarts on the same data
    expect((await peers[1].call("state:complete", { state: "Executing" })).ok).toBe(true);
    const beforeRestart = machine(s, run.id);
    expect(JSON.parse(beforeRestart).context.instances[names[1]].completed).toBe(true);
    await t.stop();
    s = await t.boot(cloud, s.dataDir);
    expect(machine(s, run.id)).toBe(beforeRestart);
    // the instances keep the order they were added in (a mapping's fan-out follows it)
    expect(s.app.runs.get(run.id).snapshot.context.instances.keys()).toEqual(
      Object.keys(JSON.parse(beforeRestart).context.instances),
    );
  });

  it("the migration moves a snapshot stored whole (before run_machine_instances) into rows, losing nothing", async () => {
    const s = await t.boot(new PeerCloud());
    const run = await tutorialRun(s, { multiplicity: { client: 3 } });
    const sqlite = s.app.db.$client;
    const whole = machine(s, run.id);
    // the run as a server before the migration stored it
    sqlite.prepare("update runs set snapshot = ? where id = ?").run(whole, run.id);
    sqlite.prepare("delete from run_machine_instances where run_id = ?").run(run.id);
    const migration = readFileSync(path.join(ROOT, "drizzle", "0016_run_machine_instances.sql"), "utf8");
    const [, ...moves] = migration.split("--> statement-breakpoint");
    for (const statement of moves) sqlite.exec(statement);
    expect(JSON.parse(whole).context.instances).not.toEqual({});
    expect(stored(s, run.id)).toBe(whole);
    const row = sqlite.prepare("select snapshot from runs where id = ?").get(run.id) as { snapshot: string };
    expect(JSON.parse(row.snapshot).context.instances).toEqual({});
  });
});
