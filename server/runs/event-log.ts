import type { RunEvent, RunEventBody } from "../../protocol/run.js";
import type { Db } from "../db/open.js";
import type { SqlRow } from "../db/rows.js";
import type { events } from "../db/schema.js";

type EventRow = SqlRow<typeof events>;

/**
 * Events of a run with seq > since, in order: what a reconnecting browser or agent replays. At most `limit`
 * events and, past the first, no more than about `maxBytes` of them (log chunks are up to 64 KiB each): a page
 * is a bounded piece of memory whatever the run printed. A caller pages on from the last seq it got.
 */
export function readEvents(
  db: Db,
  runId: string,
  since: number,
  limit: number,
  type?: string,
  maxBytes = Number.POSITIVE_INFINITY,
  /** only the events of this actor (`node:<instance>`) */
  actor?: string,
): RunEvent[] {
  // fixed fragments only, every value bound
  const where = ["run_id = ?", "seq > ?", ...(type ? ["type = ?"] : []), ...(actor ? ["actor = ?"] : [])];
  const statement = db.$client
    .prepare(`select * from events where ${where.join(" and ")} order by seq limit ?`)
    .bind(runId, since, ...(type ? [type] : []), ...(actor ? [actor] : []), limit);
  // row by row, so a page of huge log chunks stops reading at the byte bound instead of loading them all
  const rows: EventRow[] = [];
  let bytes = 0;
  for (const row of statement.iterate() as IterableIterator<EventRow>) {
    if (rows.length > 0 && bytes + row.body.length > maxBytes) break;
    bytes += row.body.length;
    rows.push(row);
  }
  return rows.map((r) => ({
    runId: r.run_id,
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    body: JSON.parse(r.body) as RunEventBody,
  }));
}
