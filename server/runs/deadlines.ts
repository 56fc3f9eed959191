import type { Logger } from "pino";
import type { RunService } from "./service.js";

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Run timeouts are stored as deadlines in the runs table; this keeps a single timer armed for the nearest
 * one and re-reads the table when it fires, so a restart loses nothing (arm() at boot).
 */
export class Deadlines {
  private timer: NodeJS.Timeout | null = null;
  /** set by stop() (the server is closing, its database with it): arm() then does nothing */
  private stopped = false;

  constructor(
    private readonly svc: RunService,
    private readonly log: Logger,
  ) {}

  arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    const row = this.svc.db.$client
      .prepare(
        "select min(deadline_at) as next from runs where deadline_at is not null and state in ('Initializing','Provisioning','Executing','SendingReports')",
      )
      .get() as { next: string | null };
    if (!row.next) return;
    const delay = Math.max(0, Math.min(MAX_TIMER_MS, Date.parse(row.next) - Date.now()));
    this.timer = setTimeout(() => this.fire(), delay);
    this.timer.unref();
  }

  private fire(): void {
    const due = this.svc.db.$client
      .prepare(
        "select id from runs where deadline_at <= ? and state in ('Initializing','Provisioning','Executing','SendingReports')",
      )
      .all(new Date().toISOString()) as { id: string }[];
    for (const { id } of due) {
      try {
        const rt = this.svc.get(id);
        this.svc.send(rt, "server", { type: "timeout" });
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
