import type Database from "better-sqlite3";
import { InstanceTable } from "../../core/instance-table.js";
import type { InstanceInfo } from "../../core/run-context.js";
import type { RunSnapshot } from "../../core/run-machine.js";
import { persistRun, restoreRun } from "../../core/run-persistence.js";

/**
 * The run machine's snapshot as stored: its instances one row each (run_machine_instances), the rest in the run row.
 * A transition changes one instance or none (an agent up, a barrier completed), so it writes that one row and a run
 * row that stays small; the whole snapshot per transition was O(instances) JSON and SQLite pages each, quadratic
 * over a launch (a 500-instance launch: ~2,500 transitions of a ~60 KB snapshot).
 */
export class MachineInstanceStatements {
  private readonly upsert;
  private readonly select;

  constructor(sqlite: Database.Database) {
    this.upsert = sqlite.prepare(
      `insert into run_machine_instances (run_id, name, node, live, came_up, completed)
       values (@runId, @name, @node, @live, @cameUp, @completed)
       on conflict (run_id, name) do update set node = excluded.node, live = excluded.live,
       came_up = excluded.came_up, completed = excluded.completed`,
    );
    // rowid: the order they were added in, as the context's keys (a mapping's fan-out goes in that order)
    this.select = sqlite.prepare(
      "select name, node, live, came_up, completed from run_machine_instances where run_id = ? order by rowid",
    );
  }

  /**
   * Writes the instances of `next` that differ from `stored` (what the rows hold now; null: none known, all of
   * them). Instances never leave the context (a removed one is no longer live), so no row is ever deleted.
   */
  write(runId: string, stored: InstanceTable | null, next: InstanceTable): void {
    for (const [name, info] of next.changedSince(stored)) {
      const was = stored?.get(name);
      if (was !== undefined && same(was, info)) continue;
      this.upsert.run({
        runId,
        name,
        node: info.node,
        live: info.live ? 1 : 0,
        cameUp: info.cameUp ? 1 : 0,
        completed: info.completed ? 1 : 0,
      });
    }
  }

  /** The snapshot `snapshotJson` (the run row's) with its instances from the rows, as restoreRun checks it. */
  restore(runId: string, snapshotJson: string): RunSnapshot {
    const stored = JSON.parse(snapshotJson) as { context?: Record<string, unknown> };
    const instances: Record<string, InstanceInfo> = {};
    for (const r of this.select.all(runId) as {
      name: string;
      node: string;
      live: number;
      came_up: number;
      completed: number;
    }[]) {
      instances[r.name] = { node: r.node, live: r.live === 1, cameUp: r.came_up === 1, completed: r.completed === 1 };
    }
    return restoreRun({ ...stored, context: { ...stored.context, instances } });
  }
}

const same = (a: InstanceInfo, b: InstanceInfo) =>
  a === b || (a.node === b.node && a.live === b.live && a.cameUp === b.cameUp && a.completed === b.completed);

/** The run row's part of the snapshot: everything but the instances (getPersistedSnapshot copies what it is given). */
export function storedSnapshot(snapshot: RunSnapshot): string {
  return JSON.stringify(
    persistRun({ ...snapshot, context: { ...snapshot.context, instances: InstanceTable.EMPTY } } as RunSnapshot),
  );
}
