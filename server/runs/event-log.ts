import type { RunEvent, RunEventBody } from "../../protocol/run.js";
import type { Db } from "../db/open.js";

interface EventRow {
  run_id: string;
  seq: number;
  at: string;
  actor: string;
  body: string;
}

/** Events of a run with seq > since, in order: what a reconnecting browser or agent replays. */
export function readEvents(db: Db, runId: string, since: number, limit: number, type?: string): RunEvent[] {
  const rows = (
    type
      ? db.$client
          .prepare("select * from events where run_id = ? and seq > ? and type = ? order by seq limit ?")
          .all(runId, since, type, limit)
      : db.$client
          .prepare("select * from events where run_id = ? and seq > ? order by seq limit ?")
          .all(runId, since, limit)
  ) as EventRow[];
  return rows.map((r) => ({
    runId: r.run_id,
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    body: JSON.parse(r.body) as RunEventBody,
  }));
}
