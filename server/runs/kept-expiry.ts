import type { Logger } from "pino";
import { fieldError, SlipError } from "../../protocol/errors.js";
import { formatHours, MAX_KEPT_HOURS } from "../../protocol/kept.js";
import type { RunEvent } from "../../protocol/run.js";
import type { Bus } from "../bus.js";
import type { AppContext } from "../context.js";
import { isKept, readKeptUntil } from "./kept-until.js";
import type { RunRuntime } from "./runtime.js";
import type { RunService } from "./service.js";

const MAX_TIMER_MS = 2 ** 31 - 1;
/** who terminates an expired run, in its event log (not a person, not an agent) */
export const EXPIRY_ACTOR = "system";

/**
 * Kept-run expiry (protocol/kept.ts). A run kept in Ready holds its machines for debugging; its expiry is the
 * `kept_until` column, written in the transaction that keeps it (run-tx.ts) and moved by `extend`. As Deadlines
 * does for run timeouts, one timer is armed for the nearest expiry and the table is read again when it fires, so a
 * restart loses nothing (start() arms at boot). At expiry the run is terminated the way a person's Terminate does
 * it, by `system`, with a `kept-expired` event saying why in the same transaction; the owner's webhooks are told
 * (`run.expired`) and browsers see the events.
 */
export class KeptExpiry {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly onEvents = (_runId: string, events: RunEvent[]) => {
    if (events.some((e) => e.body.type === "kept" || e.body.type === "kept-extended")) this.arm();
  };

  constructor(
    private readonly svc: RunService,
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.bus.on("events", this.onEvents);
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    this.bus.off("events", this.onEvents);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** The run's expiry while it is kept, else null. */
  keptUntil(rt: RunRuntime): string | null {
    return readKeptUntil(this.svc.db.$client, rt);
  }

  arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    const row = this.svc.db.$client
      .prepare("select min(kept_until) as next from runs where kept_until is not null and state = 'Ready'")
      .get() as { next: string | null };
    if (!row.next) return;
    const delay = Math.max(0, Math.min(MAX_TIMER_MS, Date.parse(row.next) - Date.now()));
    this.timer = setTimeout(() => this.fire(), delay);
    this.timer.unref();
  }

  private fire(): void {
    this.timer = null;
    const now = new Date();
    const due = this.svc.db.$client
      .prepare("select id, kept_until from runs where state = 'Ready' and kept_until <= ?")
      .all(now.toISOString()) as { id: string; kept_until: string }[];
    for (const { id } of due) {
      try {
        const rt = this.svc.get(id);
        // a Ready that is not kept (all completing it now) ends on its own; its column is stale
        if (!isKept(rt)) {
          this.svc.db.$client.prepare("update runs set kept_until = null where id = ?").run(id);
          continue;
        }
        const hours = (now.getTime() - this.keptSince(rt, now)) / 3_600_000;
        const message = `kept for ${formatHours(hours)}, its limit: terminated`;
        this.svc.commands.terminate(rt, EXPIRY_ACTOR, { type: "kept-expired", hours, message });
        this.log.info({ run: id, hours }, "kept run expired: terminated");
      } catch (err) {
        // e.g. storage full: the run keeps its expiry and the next arm() tries again
        this.log.error({ err, run: id }, "terminating an expired kept run failed");
      }
    }
    this.armLater(due.length > 0);
  }

  /** After a failed termination the expiry is still due: try again in a second, not in a tight loop. */
  private armLater(anyDue: boolean): void {
    const stillDue =
      anyDue &&
      !this.stopped &&
      this.svc.db.$client
        .prepare("select 1 from runs where state = 'Ready' and kept_until <= ? limit 1")
        .get(new Date().toISOString()) !== undefined;
    if (!stillDue) {
      this.arm();
      return;
    }
    this.timer = setTimeout(() => this.fire(), 1000);
    this.timer.unref();
  }

  /** When it was kept (its latest `kept` event): what the expiry event reports as the time it was kept. */
  private keptSince(rt: RunRuntime, now: Date): number {
    const row = this.svc.db.$client
      .prepare("select at from events where run_id = ? and type = 'kept' order by seq desc limit 1")
      .get(rt.id) as { at: string } | undefined;
    return row ? Date.parse(row.at) : now.getTime();
  }

  /**
   * Moves a kept run's expiry `hours` on from the current one (or from now, if that passed already: the timer is
   * about to fire); refused for a run that is not kept, and past MAX_KEPT_HOURS from now.
   */
  extend(rt: RunRuntime, hours: number, actor: string): { id: string; keptUntil: string; seq: number } {
    if (!isKept(rt)) {
      throw new SlipError(
        "CONFLICT",
        `run ${rt.id} is not kept in Ready (it is ${rt.state}${rt.state === "Ready" ? ", finishing" : ""}): only a kept run has an expiry to extend`,
      );
    }
    const now = Date.now();
    const current = Date.parse(this.keptUntil(rt) ?? new Date(now).toISOString());
    const until = new Date(Math.max(now, current) + Math.round(hours * 3_600_000)).toISOString();
    if (Date.parse(until) - now > MAX_KEPT_HOURS * 3_600_000) {
      throw fieldError(
        "hours",
        `would keep run ${rt.id} until ${until}: a kept run's expiry is at most ${MAX_KEPT_HOURS} h from now`,
      );
    }
    const seq = this.svc.transact(rt, actor, (tx) => {
      this.svc.db.$client.prepare("update runs set kept_until = ? where id = ?").run(until, rt.id);
      return tx.event({ type: "kept-extended", hours, until });
    });
    return { id: rt.id, keptUntil: until, seq };
  }
}

/** The kept-run expiry of a running server, by its context (beside it, as the webhooks are: server/notify). */
const byApp = new WeakMap<AppContext, KeptExpiry>();

/** Starts the expiry timer of a server (boot: expiries stored before a restart are armed again). */
export function startKeptExpiry(app: AppContext): KeptExpiry {
  const expiry = new KeptExpiry(app.runs, app.bus, app.log);
  byApp.set(app, expiry);
  expiry.start();
  return expiry;
}

export function keptExpiryOf(app: AppContext): KeptExpiry {
  const expiry = byApp.get(app);
  if (!expiry) throw new Error("the server's kept-run expiry is not started");
  return expiry;
}

export function stopKeptExpiry(app: AppContext): void {
  byApp.get(app)?.stop();
}
