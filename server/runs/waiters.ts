import { SlipError } from "../../protocol/errors.js";

interface Waiter {
  ignoreAbort: boolean;
  resolve: (value: string) => void;
  reject: (err: SlipError) => void;
  timer: NodeJS.Timeout | null;
}

/**
 * Blocked `ss-get`s of one run, keyed by parameter. A set answers its waiters in the same tick it is
 * committed; an abort answers every waiter that does not ignore it. Timeouts are per-wait timers
 * (they are a property of the request, not of the run).
 */
export class Waiters {
  private byKey = new Map<string, Set<Waiter>>();

  wait(key: string, timeoutSeconds: number, ignoreAbort: boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { ignoreAbort, resolve, reject, timer: null };
      const set = this.byKey.get(key) ?? new Set();
      set.add(waiter);
      this.byKey.set(key, set);
      if (timeoutSeconds > 0) {
        waiter.timer = setTimeout(() => {
          this.remove(key, waiter);
          reject(new SlipError("TIMEOUT", `timed out after ${timeoutSeconds}s waiting for '${key}'`));
        }, timeoutSeconds * 1000);
      }
    });
  }

  /** Answers every waiter of `key` with its new value. */
  wake(key: string, value: string): void {
    const set = this.byKey.get(key);
    if (!set) return;
    this.byKey.delete(key);
    for (const w of set) {
      if (w.timer) clearTimeout(w.timer);
      w.resolve(value);
    }
  }

  /** Fails every waiter that does not ignore the abort. */
  abort(message: string): void {
    for (const [key, set] of this.byKey) {
      for (const w of set) {
        if (w.ignoreAbort) continue;
        this.remove(key, w);
        w.reject(new SlipError("ABORTED", `run aborted: ${message}`));
      }
    }
  }

  /** Fails every waiter (run ended or server stopping). */
  closeAll(err: SlipError): void {
    for (const [key, set] of this.byKey) {
      for (const w of set) {
        this.remove(key, w);
        w.reject(err);
      }
    }
  }

  get size(): number {
    let n = 0;
    for (const set of this.byKey.values()) n += set.size;
    return n;
  }

  private remove(key: string, w: Waiter): void {
    if (w.timer) clearTimeout(w.timer);
    const set = this.byKey.get(key);
    if (!set) return;
    set.delete(w);
    if (set.size === 0) this.byKey.delete(key);
  }
}
