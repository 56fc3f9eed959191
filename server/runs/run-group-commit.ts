import type { Logger } from "pino";
import type { Db } from "../db/open.js";
import { observeCommit } from "../ops/hot-metrics.js";
import { storageError } from "../storage.js";
import { type AnswerSlot, beforeOf, type RunBefore, type RunCommit } from "./run-commit.js";
import { RunTx } from "./run-tx.js";
import type { ParamEntry, RunRuntime } from "./runtime.js";

/** One write waiting for the next group commit. */
interface GroupedWrite {
  rt: RunRuntime;
  actor: string;
  slot: AnswerSlot | null;
  /** checks again, at commit time, that the write is still allowed (the run may have changed since): throws if not */
  check: () => void;
  /** the write itself, inside the group's transaction: its event seq, or null when nothing changed */
  write: (tx: RunTx) => number | null;
  resolve: (seq: number | null) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for agents' parameter writes: the writes that arrive in one turn of the event loop share one SQLite
 * transaction (a savepoint each), and each is answered only after that commit — as durable as a write of its own,
 * without paying a commit per write under load. If the commit fails, memory goes back to what is stored.
 */
export class GroupCommit {
  private pending: GroupedWrite[] = [];
  /** when each pending write arrived (performance.now()), for the wake-latency histogram */
  private arrived: number[] = [];

  constructor(
    private readonly db: Db,
    private readonly commit: RunCommit,
    private readonly log: Logger,
  ) {}

  /** Queues a write for the group commit of this turn of the event loop. */
  add(item: GroupedWrite): void {
    this.arrived.push(performance.now());
    if (this.pending.push(item) === 1) setImmediate(() => this.flush());
  }

  private flush(): void {
    const batch = this.pending.splice(0);
    const arrived = this.arrived.splice(0);
    const staged: { tx: RunTx; before: RunBefore; since: number }[] = [];
    const answers: (() => void)[] = [];
    // what the batch changes in memory, to put back if the commit fails
    const memory = new Map<
      RunRuntime,
      { snapshot: RunRuntime["snapshot"]; lastSeq: number; params: Map<string, ParamEntry | undefined> }
    >();
    const sqlite = this.db.$client;
    const start = performance.now();
    try {
      sqlite.transaction(() => {
        for (const [i, item] of batch.entries()) {
          const { rt } = item;
          try {
            item.check();
            const tx = new RunTx(rt, item.actor, this.commit.statements);
            const before = beforeOf(rt);
            const seq = sqlite.transaction(() => {
              const v = item.write(tx);
              tx.flushIfChanged();
              if (item.slot) this.commit.storeAnswer(rt, item.slot, { seq: v });
              return v;
            })();
            let m = memory.get(rt);
            if (!m) {
              m = { snapshot: rt.snapshot, lastSeq: rt.lastSeq, params: new Map() };
              memory.set(rt, m);
            }
            for (const k of tx.params.keys()) if (!m.params.has(k)) m.params.set(k, rt.params.get(k));
            // the next write of the batch builds on this one
            tx.commitTo(rt);
            staged.push({ tx, before, since: arrived[i] });
            answers.push(() => item.resolve(seq));
          } catch (err) {
            this.commit.storageFailed(rt, err);
            answers.push(() => item.reject(err));
          }
        }
      })();
    } catch (err) {
      // the commit itself failed: nothing of the batch is stored, so memory goes back to what is
      for (const [rt, m] of memory) {
        rt.snapshot = m.snapshot;
        rt.lastSeq = m.lastSeq;
        for (const [k, v] of m.params) {
          if (v) rt.params.set(k, v);
          else rt.params.delete(k);
        }
      }
      for (const item of batch) this.commit.storageFailed(item.rt, err);
      if (!storageError(err)) this.log.error({ err }, "group commit of parameter writes failed");
      for (const item of batch) item.reject(err);
      return;
    }
    observeCommit("group", start);
    for (const { tx, before, since } of staged) {
      try {
        this.commit.afterCommit(tx.rt, tx, before, since);
      } catch (err) {
        this.log.error({ err, run: tx.rt.id }, "after a parameter write");
      }
    }
    for (const answer of answers) answer();
  }
}
