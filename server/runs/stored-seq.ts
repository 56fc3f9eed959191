import type { Db } from "../db/open.js";

/**
 * A run's last seq and the time of its last change, as stored. A parameter write does not rewrite the run row (that
 * update was a quarter of a wake's commit and one of its WAL pages, bench/RESULTS.md): the row's `last_seq` and
 * `updated_at` are those of the last transaction that moved the machine, and the newest event, found by the events'
 * primary key (run_id, seq) without reading the log, tells the rest. The newest event of a run is never deleted (the
 * log budget drops only older tail chunks, a "log-dropped" marker is replaced by a newer one), so a seq is never
 * handed out twice across a restart. `run` is how the query names the runs table.
 */
export const storedLastSeqSql = (run: string) =>
  `max(${run}.last_seq, coalesce((select max(e.seq) from events e where e.run_id = ${run}.id), 0))`;

export const storedUpdatedAtSql = (run: string) =>
  `max(${run}.updated_at, coalesce((select e.at from events e where e.run_id = ${run}.id order by e.seq desc limit 1), ''))`;

/** The stored last seq of one run (what a restart resumes from); null when there is no such run. */
export function storedLastSeq(db: Db, runId: string): number | null {
  const seq = db.$client
    .prepare(`select ${storedLastSeqSql("runs")} from runs where runs.id = ?`)
    .pluck()
    .get(runId);
  return seq === undefined ? null : (seq as number);
}
