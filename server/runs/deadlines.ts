import type { Logger } from "pino";
import { TIMEOUT_MESSAGE } from "../../core/run-machine.js";
import { CLIMBING_SQL } from "../db/run-states.js";
import type { RunRuntime } from "./runtime.js";
import type { RunService } from "./service.js";

const MAX_TIMER_MS = 2 ** 31 - 1;
/** After a timeout's abort, how long the nodes have to stop their scripts and send their reports (SlipStream's GC pass) */
const TIMEOUT_GRACE_MS = 5 * 60_000;

/**
 * Run timeouts are stored as deadlines in the runs table; this keeps a single timer armed for the nearest
 * one and re-reads the table when it fires, so a restart loses nothing (arm() at boot).
 *
 * A deadline that passes while the run is still climbing to Ready (run-rules R15) works as SlipStream's garbage
 * collector does: first it aborts the run with "The run has timed out", like any abort — scripts get TERM then
 * KILL, every node runs its report target and sends it, and keep-running then decides whether the machines stay in
 * Ready for debugging — and the deadline moves TIMEOUT_GRACE_MS on. If the run is still climbing when that passes
 * too (a node that never answers), the `timeout` event ends it: Finalizing, then Aborted.
 */
export class Deadlines {
  private timer: NodeJS.Timeout | null = null;
  /** set by stop() (the server is closing, its database with it): arm() then does nothing */
  private stopped = false;

  constructor(
    private readonly svc: RunService,
    private readonly log: Logger,
    private readonly graceMs = TIMEOUT_GRACE_MS,
  ) {}

  /** Whether this climb to Ready was already aborted by its deadline (a scale starts a new climb). */
  private abortedByTimeout(rt: RunRuntime): boolean {
    return (
      this.svc.db.$client
        .prepare(
          `select 1 from events where run_id = ? and type = 'abort' and actor = 'server' and json_extract(body, '$.message') = ?
           and seq > coalesce((select max(seq) from events where run_id = ? and type = 'scale'), 0) limit 1`,
        )
        .get(rt.id, TIMEOUT_MESSAGE, rt.id) !== undefined
    );
  }

  arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    const row = this.svc.db.$client
      .prepare(`select min(deadline_at) as next from runs where deadline_at is not null and state in ${CLIMBING_SQL}`)
      .get() as { next: string | null };
    if (!row.next) return;
    const delay = Math.max(0, Math.min(MAX_TIMER_MS, Date.parse(row.next) - Date.now()));
    this.timer = setTimeout(() => this.fire(), delay);
    this.timer.unref();
  }

  private fire(): void {
    const due = this.svc.db.$client
      .prepare(`select id from runs where deadline_at <= ? and state in ${CLIMBING_SQL}`)
      .all(new Date().toISOString()) as { id: string }[];
    for (const { id } of due) {
      try {
        const rt = this.svc.get(id);
        if (this.abortedByTimeout(rt)) {
          this.svc.send(rt, "server", { type: "timeout" });
        } else {
          this.svc.db.$client
            .prepare("update runs set deadline_at = ? where id = ?")
            .run(new Date(Date.now() + this.graceMs).toISOString(), id);
          rt.deadlineAt = new Date(Date.now() + this.graceMs).toISOString();
          this.svc.abort(rt, TIMEOUT_MESSAGE, "server");
        }
      } catch (err) {
        this.log.error({ err, run: id }, "run timeout failed");
      }
    }
    this.arm();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.stopped = true;
  }
}
