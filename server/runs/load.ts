import type { RunSpec } from "../../core/run-spec.js";
import type { Db } from "../db/open.js";
import type { SqlRow } from "../db/rows.js";
import type { runs } from "../db/schema.js";
import { MachineInstanceStatements } from "./machine-instances.js";
import { type InstanceRecord, RunRuntime } from "./runtime.js";
import { storedParams } from "./stored-params.js";
import { storedLastSeqSql, storedUpdatedAtSql } from "./stored-seq.js";

/** a run's row, with its owner's name */
type RunRow = SqlRow<typeof runs> & { username: string; stored_last_seq: number; stored_updated_at: string };

/** Rebuilds a run's runtime from its rows: the persisted machine snapshot, parameters (stored-params.ts) and instances. */
export function loadRun(db: Db, runId: string): RunRuntime | null {
  const sqlite = db.$client;
  const row = sqlite
    .prepare(
      `select runs.*, users.username, ${storedLastSeqSql("runs")} as stored_last_seq, ${storedUpdatedAtSql("runs")} as stored_updated_at
       from runs join users on users.id = runs.owner_id where runs.id = ?`,
    )
    .get(runId) as RunRow | undefined;
  if (!row) return null;
  const { params, events: paramEvents } = storedParams(sqlite, runId);
  const instances = new Map<string, InstanceRecord>();
  for (const i of sqlite.prepare("select * from instances where run_id = ? order by node, idx").all(runId) as {
    name: string;
    node: string;
    idx: number;
    cloud: string;
    token_hash: string;
    machine_id: string | null;
    workspace: string | null;
    login: string | null;
    status: InstanceRecord["status"];
    log_chunk: number;
  }[]) {
    instances.set(i.name, {
      name: i.name,
      node: i.node,
      idx: i.idx,
      cloud: i.cloud,
      tokenHash: i.token_hash,
      machineId: i.machine_id,
      workspace: i.workspace,
      login: i.login,
      status: i.status,
      logChunk: i.log_chunk,
    });
  }
  const rt = new RunRuntime(
    row.id,
    JSON.parse(row.spec) as RunSpec,
    row.owner_id,
    row.username,
    row.keep_running,
    Boolean(row.scalable),
    JSON.parse(row.tags) as string[],
    new MachineInstanceStatements(sqlite).restore(row.id, row.snapshot),
    row.stored_last_seq,
    params,
    instances,
    row.created_at,
    row.stored_updated_at,
    row.deadline_at,
  );
  // the event budget's count: the parameter changes, and the aborts (found by their own index, not by reading the log)
  rt.counted =
    paramEvents +
    (sqlite.prepare("select count(*) from events where run_id = ? and type = 'abort'").pluck().get(runId) as number);
  // one pass over the run's answers: keyed by request first (0019), they are not grouped by instance
  for (const r of sqlite.prepare("select distinct instance from request_answers where run_id = ?").all(runId) as {
    instance: string;
  }[]) {
    rt.answeredBefore.add(r.instance);
  }
  for (const r of sqlite
    .prepare(
      "select json_extract(body, '$.instance') as name from events where run_id = ? and type = 'instance' and json_extract(body, '$.status') = 'lost'",
    )
    .all(runId) as { name: string }[]) {
    rt.lost.add(r.name);
  }
  return rt;
}
