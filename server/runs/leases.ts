import type { Logger } from "pino";
import { SlipError } from "../../protocol/errors.js";
import type { LeaseState } from "../../protocol/run-lease.js";
import type { AppContext } from "../context.js";
import { TERMINAL_SQL } from "../db/run-states.js";
import type { RunRuntime } from "./runtime.js";
import type { RunService } from "./service.js";

const MAX_TIMER_MS = 2 ** 31 - 1;
/** who terminates a run whose lease expired, in its event log */
const LEASE_ACTOR = "server";

interface LeaseRow {
  lease_grace_seconds: number | null;
  lease_expires_at: string | null;
}

/**
 * Client leases on runs (protocol/run-lease.ts). A lease is two columns of the run: its grace and its expiry, moved
 * on by each renewal. As Deadlines does for timeouts, one timer is armed for the nearest expiry of an unfinished
 * run and the table is read again when it fires, so nothing is polled and a restart loses nothing. At expiry the run
 * is terminated the way a person's Terminate does it, with a `lease` event saying why in the same transaction;
 * a run kept in Ready by keep-running is left up (its owner asked for that), and the event says so.
 */
export class RunLeases {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly svc: RunService,
    private readonly log: Logger,
  ) {}

  /** when this server started: while it was down no holder could renew, so no lease ends before its grace from then */
  private startedAt = Date.now();

  /** Boot: arms the timer for the leases stored before a restart (each with its grace again from the start). */
  start(): void {
    this.startedAt = Date.now();
    this.arm();
  }

  /** Active runs' leases, each with when it ends: its expiry, or its grace from the server's start if later. */
  private leases(): { id: string; grace: number; expires: string; endsAt: number }[] {
    const rows = this.svc.db.$client
      .prepare(
        `select id, lease_grace_seconds as grace, lease_expires_at as expires from runs
         where lease_expires_at is not null and state not in ${TERMINAL_SQL}`,
      )
      .all() as { id: string; grace: number; expires: string }[];
    return rows.map((r) => ({ ...r, endsAt: Math.max(Date.parse(r.expires), this.startedAt + r.grace * 1000) }));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private row(rt: RunRuntime): LeaseRow {
    return (
      (this.svc.db.$client.prepare("select lease_grace_seconds, lease_expires_at from runs where id = ?").get(rt.id) as
        | LeaseRow
        | undefined) ?? { lease_grace_seconds: null, lease_expires_at: null }
    );
  }

  state(rt: RunRuntime): LeaseState {
    const r = this.row(rt);
    return { id: rt.id, graceSeconds: r.lease_grace_seconds, expiresAt: r.lease_expires_at };
  }

  /** Takes the lease, or renews it (a heartbeat: idempotent; only taking it or changing its grace is an event). */
  take(rt: RunRuntime, graceSeconds: number, actor: string): LeaseState {
    if (rt.terminal) {
      throw new SlipError("CONFLICT", `run ${rt.id} is ${rt.state}: it has ended, there is nothing to hold`);
    }
    const expiresAt = new Date(Date.now() + graceSeconds * 1000).toISOString();
    const before = this.row(rt);
    const update = this.svc.db.$client.prepare(
      "update runs set lease_grace_seconds = ?, lease_expires_at = ? where id = ?",
    );
    if (before.lease_expires_at !== null && before.lease_grace_seconds === graceSeconds) {
      update.run(graceSeconds, expiresAt, rt.id);
    } else {
      this.svc.transact(rt, actor, (tx) => {
        update.run(graceSeconds, expiresAt, rt.id);
        tx.event({
          type: "lease",
          status: "taken",
          graceSeconds,
          message: `lease held by ${actor}: if it is not renewed for ${graceSeconds} s the run is terminated (unless kept in Ready)`,
        });
      });
    }
    this.arm();
    return { id: rt.id, graceSeconds, expiresAt };
  }

  /** Releases the lease; nothing happens when there is none (a retried release, a run that already ended). */
  release(rt: RunRuntime, actor: string): LeaseState {
    const before = this.row(rt);
    if (before.lease_expires_at === null) return { id: rt.id, graceSeconds: null, expiresAt: null };
    const clear = () =>
      this.svc.db.$client
        .prepare("update runs set lease_grace_seconds = null, lease_expires_at = null where id = ?")
        .run(rt.id);
    if (rt.terminal) clear();
    else {
      this.svc.transact(rt, actor, (tx) => {
        clear();
        tx.event({
          type: "lease",
          status: "released",
          graceSeconds: before.lease_grace_seconds ?? 0,
          message: `lease released by ${actor}: the run goes on without a holder`,
        });
      });
    }
    this.arm();
    return { id: rt.id, graceSeconds: null, expiresAt: null };
  }

  arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped) return;
    const next = Math.min(...this.leases().map((l) => l.endsAt));
    if (next === Number.POSITIVE_INFINITY) return;
    const delay = Math.max(0, Math.min(MAX_TIMER_MS, next - Date.now()));
    this.timer = setTimeout(() => this.fire(), delay);
    this.timer.unref();
  }

  private fire(): void {
    this.timer = null;
    const now = Date.now();
    const due = this.leases().filter((l) => l.endsAt <= now);
    let failed = false;
    for (const { id, grace, expires } of due) {
      try {
        this.expire(this.svc.get(id), grace, Math.round((now - (Date.parse(expires) - grace * 1000)) / 1000));
      } catch (err) {
        // e.g. storage full: the lease stays due and is tried again in a second
        failed = true;
        this.log.error({ err, run: id }, "ending a run whose lease expired failed");
      }
    }
    if (failed && !this.stopped) {
      this.timer = setTimeout(() => this.fire(), 1000);
      this.timer.unref();
    } else this.arm();
  }

  private expire(rt: RunRuntime, grace: number, goneSeconds: number): void {
    const clear = this.svc.db.$client.prepare(
      "update runs set lease_grace_seconds = null, lease_expires_at = null where id = ?",
    );
    const gone = `the client holding its lease went away ${goneSeconds} s ago (grace ${grace} s)`;
    const kept = rt.state === "Ready" && rt.snapshot.context.kept;
    if (kept) {
      this.svc.transact(rt, LEASE_ACTOR, (tx) => {
        clear.run(rt.id);
        tx.event({
          type: "lease",
          status: "expired",
          graceSeconds: grace,
          message: `${gone}: not terminated, keep-running (${rt.keepRunning}) keeps it in Ready`,
        });
      });
      return;
    }
    const why = { type: "lease", status: "expired", graceSeconds: grace, message: `${gone}: terminated` } as const;
    try {
      this.svc.commands.terminate(rt, LEASE_ACTOR, why);
    } catch (err) {
      // the run cannot be terminated in its state (already finishing): the lease has nothing left to do
      if (!(err instanceof SlipError && err.code === "CONFLICT")) throw err;
    }
    clear.run(rt.id);
    this.log.info({ run: rt.id, goneSeconds, grace }, "lease expired: run terminated");
  }
}

/** The leases of a running server, by its context (beside it, as the webhooks are: server/notify). */
const byApp = new WeakMap<AppContext, RunLeases>();

/** Starts the lease timer of a server (boot: leases stored before a restart are armed again). */
export function startRunLeases(app: AppContext): RunLeases {
  const leases = new RunLeases(app.runs, app.log);
  byApp.set(app, leases);
  leases.start();
  return leases;
}

export function runLeasesOf(app: AppContext): RunLeases {
  const leases = byApp.get(app);
  if (!leases) throw new Error("the server's run leases are not started");
  return leases;
}

export function stopRunLeases(app: AppContext): void {
  byApp.get(app)?.stop();
}
