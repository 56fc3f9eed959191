import type { Logger } from "pino";
import { SlipError } from "../../protocol/errors.js";
import type { Db } from "../db/open.js";
import { TERMINAL_SQL } from "../db/run-states.js";
import { loadRun } from "./load.js";
import type { RunRuntime } from "./runtime.js";

/** Ended runs kept in memory (the most recent): they are what people open right after the end. */
const ENDED_KEPT = 64;

/**
 * The runs in memory: each is loaded from SQLite on first use (load.ts) and kept while it is active; ended runs are
 * kept up to ENDED_KEPT, the most recently ended last, and read again when someone opens them.
 */
export class RunRegistry {
  private readonly runtimes = new Map<string, RunRuntime>();

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {}

  get(runId: string): RunRuntime {
    let rt = this.runtimes.get(runId);
    if (!rt) {
      const loaded = loadRun(this.db, runId);
      if (!loaded) throw new SlipError("NOT_FOUND", `run '${runId}' not found`);
      rt = loaded;
      this.runtimes.set(runId, rt);
      if (rt.terminal) this.trimEnded();
    }
    return rt;
  }

  /** The run, or null when there is none; a run that exists but cannot be loaded is logged, not hidden silently. */
  tryGet(runId: string): RunRuntime | null {
    try {
      return this.get(runId);
    } catch (err) {
      if (!(err instanceof SlipError && err.code === "NOT_FOUND")) {
        this.log.error({ err, run: runId }, "loading a run failed");
      }
      return null;
    }
  }

  /**
   * The run if it is in memory, never read from SQLite: for timers and monitors that outlive a run's end. Active runs
   * are always in memory, so a run that is not has ended (and left it, trimEnded).
   */
  peek(runId: string): RunRuntime | undefined {
    return this.runtimes.get(runId);
  }

  forget(runId: string): void {
    this.runtimes.delete(runId);
  }

  adopt(rt: RunRuntime): void {
    this.runtimes.set(rt.id, rt);
  }

  activeRunIds(): string[] {
    return (
      this.db.$client.prepare(`select id from runs where state not in ${TERMINAL_SQL}`).all() as { id: string }[]
    ).map((r) => r.id);
  }

  /** The run just ended: it goes to the end of the eviction order, and older ended runs may leave memory. */
  ended(rt: RunRuntime): void {
    this.runtimes.delete(rt.id);
    this.runtimes.set(rt.id, rt);
    this.trimEnded();
  }

  /**
   * Ended runs leave memory: past ENDED_KEPT of them, the least recently loaded or ended that nothing uses any
   * more (no waiter, no work of the server in flight, every machine stopped) are dropped; they are read again
   * from SQLite when someone opens them.
   */
  private trimEnded(): void {
    const ended = [...this.runtimes.values()].filter((r) => r.terminal);
    for (const r of ended.slice(0, Math.max(0, ended.length - ENDED_KEPT))) {
      const busy =
        r.waiters.size > 0 ||
        r.inFlight.size > 0 ||
        [...r.instances.values()].some((i) => i.machineId !== null && i.status !== "stopped" && i.status !== "failed");
      if (!busy) this.runtimes.delete(r.id);
    }
  }
}
