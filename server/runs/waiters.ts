import { SlipError } from "../../protocol/errors.js";

/** Who waits: the agent connection the answer goes to, and the request (`<instance> <requestId>`) it answers. */
export interface WaitOwner {
  /** the agent socket's id: its waits go when it disconnects (the agent re-sends those it still wants) */
  connection?: string;
  /** the request, for `param:cancel` */
  request?: string;
  /** the instance that waits, for the `waitsPerInstance` limit */
  instance?: string;
}

interface Waiter {
  ignoreAbort: boolean;
  /** when it started (epoch ms), for the wait-for graph */
  since: number;
  owner: WaitOwner;
  resolve: (value: string) => void;
  reject: (err: SlipError) => void;
  timer: NodeJS.Timeout | null;
}

/** How many cancelled requests are remembered, so a wait that arrives after its cancel is refused at once. */
const CANCELLED_MEMORY = 256;

/**
 * Blocked `ss-get`s of one run, keyed by parameter. A set answers its waiters in the same tick it is
 * committed; an abort answers every waiter that does not ignore it. Timeouts are per-wait timers
 * (they are a property of the request, not of the run). A wait can also be dropped by its request
 * (its command exited) or by its connection (the agent disconnected: the answer has nowhere to go).
 */
export class Waiters {
  private byKey = new Map<string, Set<Waiter>>();
  private cancelled = new Set<string>();
  /** open waits per instance */
  private perInstance = new Map<string, number>();

  /** How many waits an instance has open. */
  openBy(instance: string): number {
    return this.perInstance.get(instance) ?? 0;
  }

  private count(owner: WaitOwner, delta: number): void {
    if (owner.instance === undefined) return;
    const n = (this.perInstance.get(owner.instance) ?? 0) + delta;
    if (n > 0) this.perInstance.set(owner.instance, n);
    else this.perInstance.delete(owner.instance);
  }

  wait(key: string, timeoutSeconds: number, ignoreAbort: boolean, owner: WaitOwner = {}): Promise<string> {
    return new Promise((resolve, reject) => {
      if (owner.request !== undefined && this.cancelled.has(owner.request)) {
        reject(new SlipError("CONFLICT", "request cancelled"));
        return;
      }
      const waiter: Waiter = { ignoreAbort, since: Date.now(), owner, resolve, reject, timer: null };
      const set = this.byKey.get(key) ?? new Set();
      set.add(waiter);
      this.byKey.set(key, set);
      this.count(owner, 1);
      if (timeoutSeconds > 0) {
        waiter.timer = setTimeout(() => {
          this.remove(key, waiter);
          reject(new SlipError("TIMEOUT", `timed out after ${timeoutSeconds}s waiting for '${key}'`));
        }, timeoutSeconds * 1000);
      }
    });
  }

  /** Answers every waiter of `key` with its new value; returns how many there were. */
  wake(key: string, value: string): number {
    const set = this.byKey.get(key);
    if (!set) return 0;
    this.byKey.delete(key);
    for (const w of set) {
      if (w.timer) clearTimeout(w.timer);
      this.count(w.owner, -1);
      w.resolve(value);
    }
    return set.size;
  }

  /** Fails every waiter that does not ignore the abort. */
  abort(message: string): void {
    this.drop((w) => !w.ignoreAbort, new SlipError("ABORTED", `run aborted: ${message}`));
  }

  /** Fails every waiter (run ended or server stopping). */
  closeAll(err: SlipError): void {
    this.drop(() => true, err);
  }

  /**
   * Drops the waits of one request (a param:get-all has one per instance); remembers the request so a copy of it
   * that arrives later (re-sent after a reconnect) is refused. Returns how many waits were dropped.
   */
  cancel(request: string): number {
    this.cancelled.delete(request);
    this.cancelled.add(request);
    if (this.cancelled.size > CANCELLED_MEMORY) this.cancelled.delete(this.cancelled.values().next().value as string);
    return this.drop((w) => w.owner.request === request, new SlipError("CONFLICT", "request cancelled"));
  }

  /** Drops the waits of a connection that went away. */
  disconnected(connection: string): number {
    return this.drop((w) => w.owner.connection === connection, new SlipError("UNAVAILABLE", "agent disconnected"));
  }

  /** The open waits of instances, for the wait-for graph (core/wait-graph.ts). */
  list(): { instance: string; key: string; since: number }[] {
    const out: { instance: string; key: string; since: number }[] = [];
    for (const [key, set] of this.byKey) {
      for (const w of set) {
        if (w.owner.instance !== undefined) out.push({ instance: w.owner.instance, key, since: w.since });
      }
    }
    return out;
  }

  /** whether any wait is open (a map of keys with a wait each) */
  get waiting(): boolean {
    return this.byKey.size > 0;
  }

  get size(): number {
    let n = 0;
    for (const set of this.byKey.values()) n += set.size;
    return n;
  }

  private drop(which: (w: Waiter) => boolean, err: SlipError): number {
    let n = 0;
    for (const [key, set] of this.byKey) {
      for (const w of set) {
        if (!which(w)) continue;
        this.remove(key, w);
        w.reject(err);
        n++;
      }
    }
    return n;
  }

  private remove(key: string, w: Waiter): void {
    if (w.timer) clearTimeout(w.timer);
    const set = this.byKey.get(key);
    if (!set?.delete(w)) return;
    this.count(w.owner, -1);
    if (set.size === 0) this.byKey.delete(key);
  }
}
