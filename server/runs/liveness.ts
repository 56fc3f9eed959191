import type { Logger } from "pino";
import { DEFAULT_LOST_AFTER_SECONDS } from "./create.js";
import type { RunRuntime } from "./runtime.js";
import type { RunService } from "./service.js";

/** The run's grace for an unresponsive agent, in seconds (R19). */
export function lostAfterSeconds(rt: RunRuntime): number {
  return rt.spec.lostAfterSeconds ?? DEFAULT_LOST_AFTER_SECONDS;
}

/** States in which an agent going away matters: machines are up and the run is not being wound down. */
const WATCHED = new Set(["Initializing", "Provisioning", "Executing", "SendingReports", "Ready"]);

/**
 * Run-rules R19: one timer per unresponsive instance, armed when its agent's connection drops (socket.io's
 * ping/pong pushes that within ~10 s, for a dead or a frozen agent alike) and cleared when it reconnects; when it
 * fires and the agent is still away, the instance is lost. Nothing is polled. The time it went away is stored
 * (instances.unresponsive_since), and at boot every agent that had come up is away until it reconnects: each gets
 * the grace counted from the server's start.
 */
export class Liveness {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly svc: RunService,
    private readonly log: Logger,
    private readonly isConnected: (runId: string, instance: string) => boolean,
  ) {}

  watches(rt: RunRuntime, instance: string): boolean {
    const info = rt.snapshot.context.instances[instance];
    const rec = rt.instances.get(instance);
    return (
      WATCHED.has(rt.state) &&
      !!info?.live &&
      !!info.cameUp &&
      rec?.status !== "stopping" &&
      rec?.status !== "stopped" &&
      rec?.status !== "failed"
    );
  }

  /** The agent's connection dropped (not by the server's own hang-up): record it and start its grace. */
  disconnected(rt: RunRuntime, instance: string, reason: string): void {
    if (this.stopped || !this.watches(rt, instance)) return;
    const grace = lostAfterSeconds(rt);
    const now = Date.now();
    this.svc.instanceUnresponsive(rt, instance, now, reason, grace);
    this.arm(rt.id, instance, now + grace * 1000);
  }

  /** The agent connected: if it had been away, it is back and its grace stops. */
  connected(rt: RunRuntime, instance: string): void {
    const key = `${rt.id} ${instance}`;
    const timer = this.timers.get(key);
    if (timer) clearTimeout(timer);
    this.timers.delete(key);
    // a lost instance that answers again stays lost: the run has moved on without it (its live flag is off)
    if (!rt.snapshot.context.instances[instance]?.live) return;
    const since = this.svc.unresponsiveSince(rt).get(instance);
    if (since !== undefined) {
      this.svc.instanceBack(rt, instance, `agent reconnected after ${Math.round((Date.now() - since) / 1000)} s`);
    } else if (timer && !rt.terminal) {
      this.svc.instanceBack(rt, instance, "agent reconnected after the server restarted");
    }
  }

  /** At boot: every watched instance of an active run whose agent is not connected yet gets the grace from now. */
  armAtBoot(rt: RunRuntime): void {
    const since = this.svc.unresponsiveSince(rt);
    const deadline = Date.now() + lostAfterSeconds(rt) * 1000;
    for (const name of rt.instances.keys()) {
      if (!this.watches(rt, name) || this.isConnected(rt.id, name)) {
        // an instance stored as unresponsive that is no longer watched (the run moved on) is not unresponsive
        continue;
      }
      this.arm(rt.id, name, Math.max(deadline, since.get(name) ?? 0));
    }
  }

  private arm(runId: string, instance: string, at: number): void {
    const key = `${runId} ${instance}`;
    const old = this.timers.get(key);
    if (old) clearTimeout(old);
    const timer = setTimeout(() => this.fire(runId, instance), Math.max(0, at - Date.now()));
    timer.unref();
    this.timers.set(key, timer);
  }

  private fire(runId: string, instance: string): void {
    this.timers.delete(`${runId} ${instance}`);
    if (this.stopped || this.isConnected(runId, instance)) return;
    try {
      const rt = this.svc.get(runId);
      if (!this.watches(rt, instance)) return;
      this.svc.instanceLost(rt, instance, lostAfterSeconds(rt));
    } catch (err) {
      this.log.error({ err, run: runId, instance }, "marking an instance lost failed");
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
