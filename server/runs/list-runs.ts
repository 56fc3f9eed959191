import type { RunsQuery } from "../../protocol/api.js";
import { RUN_STATES, type RunState, type RunSummary } from "../../protocol/run.js";
import type { AuthedUser } from "../auth/service.js";
import type { Db } from "../db/open.js";
import type { SqlRow } from "../db/rows.js";
import { TERMINAL_SQL } from "../db/run-states.js";
import type { runs } from "../db/schema.js";
import { storedLastSeqSql, storedUpdatedAtSql } from "./stored-seq.js";

export interface RunsPage {
  runs: RunSummary[];
  /** whether older runs match after this page */
  more: boolean;
  /** `<createdAt>~<id>` of the page's last row: the `before` of the next page */
  next: string | null;
  /** runs per state for the query's filters but its state */
  counts: Record<RunState, number>;
}

const DEFAULT_LIMIT = 200;

/**
 * The abort in force of an aborted run (its first message wins, run-rules R7: the latest abort event marked first),
 * as `<actor> <at>`, for the run whose id stands where `runId` is written; events_abort_idx holds only abort events,
 * so a long run's log is not read.
 */
const abortInForce = (runId: string) => `select e.actor || ' ' || e.at from events e
  where e.run_id = ${runId} and e.type = 'abort' and json_extract(e.body, '$.first') = 1 order by e.seq desc limit 1`;
const ABORTED_BY_SQL = `case when runs.abort is null then null else (${abortInForce("runs.id")}) end as aborted`;

/** The abort in force of an aborted run, as the summary's fields (the run's own summary; the list reads it inline). */
export function readAbortedBy(db: Db, runId: string): { abortedBy: string | null; abortedAt: string | null } {
  const row = db.$client.prepare(abortInForce("?")).pluck().get(runId) as string | undefined;
  return abortedBy(row ?? null);
}

/** `<actor> <at>` (an actor holds no space: a username, `node:<instance>`, `system`) as the summary's fields. */
export function abortedBy(row: string | null): { abortedBy: string | null; abortedAt: string | null } {
  const cut = row?.lastIndexOf(" ") ?? -1;
  if (!row || cut < 0) return { abortedBy: null, abortedAt: null };
  return { abortedBy: row.slice(0, cut), abortedAt: row.slice(cut + 1) };
}

/**
 * The runs list: a page of runs, newest first (ties by id), filtered as the query says, with the count per state for
 * the same filters but the state. Its SQL is built from fixed fragments only; every value is a bound parameter.
 */
export function listRuns(db: Db, u: AuthedUser, q: RunsQuery): RunsPage {
  // the filters the counts share (every one but the state and the page)
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.mine === "true") {
    where.push("runs.owner_id = ?");
    args.push(u.id);
  }
  if (q.owner) {
    where.push("users.username = ?");
    args.push(q.owner);
  }
  if (q.module) {
    where.push("(runs.module_path = ? or runs.module_path like ? escape '\\')");
    args.push(q.module, `${likeEscape(q.module)}/%`);
  }
  if (q.idPrefix) {
    // hex digits and dashes only (RunsQuery): nothing in it is a LIKE wildcard
    where.push("runs.id like ?");
    args.push(`${q.idPrefix.toLowerCase()}%`);
  }
  if (q.tag) {
    where.push("exists (select 1 from json_each(runs.tags) where value = ?)");
    args.push(q.tag);
  }
  if (q.createdAfter) {
    where.push("runs.created_at >= ?");
    args.push(q.createdAfter);
  }
  if (q.createdBefore) {
    where.push("runs.created_at < ?");
    args.push(q.createdBefore);
  }
  const from = "from runs join users on users.id = runs.owner_id";
  const sqlite = db.$client;

  const counts = Object.fromEntries(RUN_STATES.map((s) => [s, 0])) as Record<RunState, number>;
  const countSql = `select runs.state as state, count(*) as n ${from} ${whereSql(where)} group by runs.state`;
  for (const r of sqlite.prepare(countSql).all(...args) as { state: RunState; n: number }[]) {
    if (r.state in counts) counts[r.state] = r.n;
  }

  const pageWhere = [...where];
  const pageArgs = [...args];
  if (q.state === "active") pageWhere.push(`runs.state not in ${TERMINAL_SQL}`);
  else if (q.state) {
    pageWhere.push("runs.state = ?");
    pageArgs.push(q.state);
  }
  if (q.before) {
    const cut = q.before.indexOf("~");
    const [at, id] = [q.before.slice(0, cut), q.before.slice(cut + 1)];
    pageWhere.push("(runs.created_at < ? or (runs.created_at = ? and runs.id < ?))");
    pageArgs.push(at, at, id);
  }
  const limit = q.limit ?? DEFAULT_LIMIT;
  // one row more than the page says whether there is a next one
  const sql = `select runs.*, users.username, ${ABORTED_BY_SQL}, ${storedLastSeqSql("runs")} as stored_last_seq,
    ${storedUpdatedAtSql("runs")} as stored_updated_at ${from} ${whereSql(pageWhere)}
    order by runs.created_at desc, runs.id desc limit ?`;
  const rows = sqlite.prepare(sql).all(...pageArgs, limit + 1) as (SqlRow<typeof runs> & {
    username: string;
    aborted: string | null;
    stored_last_seq: number;
    stored_updated_at: string;
  })[];
  const more = rows.length > limit;
  if (more) rows.length = limit;
  const last = rows.at(-1);
  return {
    runs: rows.map((r) => ({
      id: r.id,
      module: r.module_path,
      owner: r.username,
      state: r.state,
      abort: r.abort,
      ...abortedBy(r.abort === null ? null : r.aborted),
      recoveryMode: Boolean(r.recovery_mode),
      keepRunning: r.keep_running,
      scalable: Boolean(r.scalable),
      tags: JSON.parse(r.tags),
      createdAt: r.created_at,
      updatedAt: r.stored_updated_at,
      lastSeq: r.stored_last_seq,
    })),
    more,
    next: last ? `${last.created_at}~${last.id}` : null,
    counts,
  };
}

function whereSql(where: string[]): string {
  return where.length ? `where ${where.join(" and ")}` : "";
}

/** A module folder as a LIKE prefix: its `%` and `_` match themselves. */
function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
