import type { Logger } from "pino";
import { firstConnectAwaited, type InstanceFacts, livenessStep, livenessWatched } from "../../core/instance-status.js";
import { DEFAULT_LOST_AFTER_SECONDS } from "./create.js";
import type { RunRuntime } from "./runtime.js";
import type { RunService } from "./service.js";

/** The run's grace for an unresponsive agent, in seconds (R19). */
function lostAfterSeconds(rt: RunRuntime): number {
  return rt.spec.lostAfterSeconds ?? DEFAULT_LOST_AFTER_SECONDS;
}

/**
 * Run-rules R19: one timer per unresponsive instance, armed when its agent's connection drops (socket.io's
 * ping/pong pushes that within ~10 s, for a dead or a frozen agent alike) and cleared when it reconnects; when it
 * fires and the agent is still away, the instance is lost. Nothing is polled. The time it went away is stored
 * (instances.unresponsive_since), and at boot every agent that had come up is away until it reconnects: each gets
 * the grace counted from the server's start. What each of these does is decided by the declared liveness machine
 * (core/instance-status.ts, run-rules I2); this class keeps the timers and records what it says.
 */
export class Liveness {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** S4b: instances whose machine started, awaiting their agent's first connect */
  private readonly firstConnect = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly svc: RunService,
    private readonly log: Logger,
    private readonly isConnected: (runId: string, instance: string) => boolean,
  ) {}

  /** What liveness is derived from, for one instance now (`connected` and `away` as the caller knows them). */
  facts(rt: RunRuntime, instance: string, link: { connected: boolean; away: boolean }): InstanceFacts {
    const info = rt.snapshot.context.instances.get(instance);
    return {
      runState: rt.state,
      live: !!info?.live,
      cameUp: !!info?.cameUp,
      machine: rt.instances.get(instance)?.status ?? "stopped",
      lost: rt.lost.has(instance),
      ...link,
    };
  }

  watches(rt: RunRuntime, instance: string): boolean {
    return livenessWatched(this.facts(rt, instance, { connected: false, away: false }));
  }

  /** The agent's connection dropped (not by the server's own hang-up): record it and start its grace. */
  disconnected(rt: RunRuntime, instance: string, reason: string): void {
    if (this.stopped) return;
    const away = this.timers.has(`${rt.id} ${instance}`);
    if (!livenessStep(this.facts(rt, instance, { connected: true, away }), "drop")) return;
    const grace = lostAfterSeconds(rt);
    const now = Date.now();
    this.svc.instanceUnresponsive(rt, instance, now, reason, grace);
    this.arm(rt.id, instance, now + grace * 1000);
  }

  /** The agent connected: if it had been away, it is back and its grace stops. */
  connected(rt: RunRuntime, instance: string): void {
    const first = this.firstConnect.get(`${rt.id} ${instance}`);
    if (first) clearTimeout(first);
    this.firstConnect.delete(`${rt.id} ${instance}`);
    const key = `${rt.id} ${instance}`;
    const timer = this.timers.get(key);
    if (timer) clearTimeout(timer);
    this.timers.delete(key);
    const since = this.svc.unresponsiveSinceOf(rt, instance);
    const step = livenessStep(
      this.facts(rt, instance, { connected: false, away: since !== undefined || timer !== undefined }),
      "connect",
    );
    if (!step?.record) return;
    this.svc.instanceBack(
      rt,
      instance,
      since !== undefined
        ? `agent reconnected after ${Math.round((Date.now() - since) / 1000)} s`
        : "agent reconnected after the server restarted",
    );
  }

  /** Its machine started (S4b): its agent has the grace to connect a first time, or the instance is lost. */
  machineStarted(rt: RunRuntime, instance: string): void {
    if (this.stopped || this.isConnected(rt.id, instance)) return;
    this.awaitFirstConnect(rt.id, instance, Date.now() + lostAfterSeconds(rt) * 1000);
  }

  private awaitFirstConnect(runId: string, instance: string, at: number): void {
    const key = `${runId} ${instance}`;
    clearTimeout(this.firstConnect.get(key));
    const timer = setTimeout(
      () => {
        this.firstConnect.delete(key);
        if (this.stopped || this.isConnected(runId, instance)) return;
        try {
          const rt = this.svc.peek(runId);
          if (!rt) return; // ended (only ended runs leave memory): nothing of it is awaited
          const grace = lostAfterSeconds(rt);
          if (!livenessStep(this.facts(rt, instance, { connected: false, away: false }), "neverConnected")) return;
          this.svc.instanceLost(
            rt,
            instance,
            grace,
            `its agent never connected within ${grace} s of its machine starting`,
          );
        } catch (err) {
          this.log.error({ err, run: runId, instance }, "marking an instance lost failed");
        }
      },
      Math.max(0, at - Date.now()),
    );
    timer.unref();
    this.firstConnect.set(key, timer);
  }

  /** At boot: every watched instance of an active run whose agent is not connected yet gets the grace from now. */
  armAtBoot(rt: RunRuntime): void {
    const since = this.svc.unresponsiveSince(rt);
    const deadline = Date.now() + lostAfterSeconds(rt) * 1000;
    for (const name of rt.instances.keys()) {
      if (this.isConnected(rt.id, name)) continue;
      if (firstConnectAwaited(this.facts(rt, name, { connected: false, away: false }))) {
        // started before the restart and never connected: the grace counts from now, as for the others
        this.awaitFirstConnect(rt.id, name, deadline);
        continue;
      }
      if (!this.watches(rt, name)) {
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
      // a run no longer in memory has ended, so none of its instances is watched: it is not read back for this
      const rt = this.svc.peek(runId);
      if (!rt) return;
      if (!livenessStep(this.facts(rt, instance, { connected: false, away: true }), "graceOver")) return;
      this.svc.instanceLost(rt, instance, lostAfterSeconds(rt));
    } catch (err) {
      this.log.error({ err, run: runId, instance }, "marking an instance lost failed");
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of [...this.timers.values(), ...this.firstConnect.values()]) clearTimeout(t);
    this.timers.clear();
    this.firstConnect.clear();
  }
}
