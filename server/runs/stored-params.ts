import type Database from "better-sqlite3";
import type { ParamEntry } from "./runtime.js";

export interface StoredParams {
  params: Map<string, ParamEntry>;
  /** the run's `param` events, all of them (its event budget counts them) */
  events: number;
}

/**
 * A run's parameters as stored. A parameter's value is its last `param` event's: a write commits its event alone and
 * leaves the parameter's row in `params` as it was. That row's update was a page of its own in every commit, and the
 * rows a group commit touched were scattered over the table (43 of the 60 pages a commit of 60 instances' writes
 * wrote, bench/RESULTS.md). A row holds what was declared: category, description, and the value at declaration with
 * its event's seq (a row written before this rule holds the value of its time, with that value's seq). An event with
 * a greater seq overrides it. Instance names are never reused (a scaled-up instance gets the next index), so a row
 * is declared once and every later event of its key is about it.
 */
export function storedParams(sqlite: Database.Database, runId: string): StoredParams {
  const params = new Map<string, ParamEntry>();
  let events = 0;
  for (const p of sqlite
    .prepare("select key, value, category, description, updated_seq from params where run_id = ?")
    .all(runId) as {
    key: string;
    value: string | null;
    category: ParamEntry["category"];
    description: string;
    updated_seq: number;
  }[]) {
    params.set(p.key, { value: p.value, category: p.category, description: p.description, seq: p.updated_seq });
  }
  // each key's newest event, found in SQLite (with one max(), the other columns are those of the row it picked),
  // and how many the key has: the one pass over the run's events that loading it takes
  for (const e of sqlite
    .prepare(
      `select json_extract(body, '$.key') as key, json_extract(body, '$.value') as value, max(seq) as seq, count(*) as n
       from events where run_id = ? and type = 'param' group by 1`,
    )
    .all(runId) as { key: string; value: string | null; seq: number; n: number }[]) {
    events += e.n;
    const p = params.get(e.key);
    if (p && e.seq > p.seq) params.set(e.key, { ...p, value: e.value, seq: e.seq });
  }
  return { params, events };
}
