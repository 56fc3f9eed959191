import type { RunsQuery } from "../../protocol/api.js";
import type { RunSummary } from "../../protocol/run.js";
import type { AuthedUser } from "../auth/service.js";
import type { Db } from "../db/open.js";
import type { SqlRow } from "../db/rows.js";
import { TERMINAL_SQL } from "../db/run-states.js";
import type { runs } from "../db/schema.js";

/** The runs list: newest first, filtered as the query says (its SQL is built from fixed fragments only). */
export function listRuns(db: Db, u: AuthedUser, q: RunsQuery): RunSummary[] {
  const where: string[] = [];
  const args: unknown[] = [];
  if (q.state === "active") where.push(`state not in ${TERMINAL_SQL}`);
  else if (q.state) {
    where.push("state = ?");
    args.push(q.state);
  }
  if (q.mine === "true") {
    where.push("owner_id = ?");
    args.push(u.id);
  }
  if (q.module) {
    where.push("(module_path = ? or module_path like ?)");
    args.push(q.module, `${q.module}/%`);
  }
  if (q.tag) {
    where.push("exists (select 1 from json_each(runs.tags) where value = ?)");
    args.push(q.tag);
  }
  const sql = `select runs.*, users.username from runs join users on users.id = runs.owner_id
    ${where.length ? `where ${where.join(" and ")}` : ""} order by runs.created_at desc limit ?`;
  const rows = db.$client.prepare(sql).all(...args, q.limit ?? 200) as (SqlRow<typeof runs> & { username: string })[];
  return rows.map((r) => ({
    id: r.id,
    module: r.module_path,
    owner: r.username,
    state: r.state,
    abort: r.abort,
    recoveryMode: Boolean(r.recovery_mode),
    keepRunning: r.keep_running,
    scalable: Boolean(r.scalable),
    tags: JSON.parse(r.tags),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    lastSeq: r.last_seq,
  }));
}
