import type { Logger } from "pino";
import type { RunEvent } from "../../protocol/run.js";
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
  /** the parameter it sets (`RunTx.setParam`, inside the group's transaction) */
  key: string;
  value: string;
  resolve: (seq: number | null) => void;
  reject: (err: unknown) => void;
}

/** What a batch changed in a run's memory, to put back if its transaction is rolled back. */
interface RunMemory {
  snapshot: RunRuntime["snapshot"];
  lastSeq: number;
  counted: number;
  updatedAt: string;
  params: Map<string, ParamEntry | undefined>;
}

interface Staged {
  tx: RunTx;
  before: RunBefore;
  since: number;
  /** only values changed (not the machine): its events can go out with the rest of the turn's */
  plain: boolean;
}

/** Thrown out of the optimistic transaction by a write that failed after it may have written part of itself. */
const REDO = Symbol("redo the group with a savepoint per write");

/**
 * Group commit for agents' parameter writes: the writes that arrive in one turn of the event loop share one SQLite
 * transaction, and each is answered only after that commit — as durable as a write of its own, without paying a
 * commit per write under load. If the commit fails, memory goes back to what is stored.
 *
 * The turn is first tried without a savepoint per write (they were half of SQLite's cost per write, bench/RESULTS.md):
 * a refusal is decided before a write touches the database, so the common case needs none. A write that throws once
 * it may have written rolls the whole turn back, and the turn is done again with a savepoint each, so that write
 * alone fails. A plain write leaves the run row alone (its seq is its event's, stored-seq.ts), and the turn's events
 * of a run go to the bus (the watchers' pushes) as one array in seq order, not one push per write.
 */
export class GroupCommit {
  private pending: GroupedWrite[] = [];
  /** when each pending write arrived (performance.now()), for the wake-latency histogram */
  private arrived: number[] = [];
  /** runs a function in a transaction (a savepoint when nested): made once, not per turn and per write */
  private readonly inTransaction: (fn: () => void) => void;

  constructor(
    private readonly db: Db,
    private readonly commit: RunCommit,
    private readonly log: Logger,
  ) {
    this.inTransaction = db.$client.transaction((fn: () => void) => fn());
  }

  /** Queues a write for the group commit of this turn of the event loop. */
  add(item: GroupedWrite): void {
    this.arrived.push(performance.now());
    if (this.pending.push(item) === 1) setImmediate(() => this.flush());
  }

  private flush(): void {
    const batch = this.pending.splice(0);
    const arrived = this.arrived.splice(0);
    if (!this.attempt(batch, arrived, false)) this.attempt(batch, arrived, true);
  }

  /** One try at the batch; false when a write failed without savepoints (nothing stored, nothing answered). */
  private attempt(batch: GroupedWrite[], arrived: number[], isolated: boolean): boolean {
    const staged: Staged[] = [];
    const answers: (() => void)[] = [];
    const memory = new Map<RunRuntime, RunMemory>();
    const sqlite = this.db.$client;
    const start = performance.now();
    try {
      this.inTransaction(() => {
        for (const [i, item] of batch.entries()) {
          const { rt } = item;
          const tx = new RunTx(rt, item.actor, this.commit.statements);
          const before = beforeOf(rt);
          let seq: number | null;
          try {
            item.check();
            if (isolated) {
              let written: number | null = null;
              this.inTransaction(() => {
                written = this.write(item, tx);
              });
              seq = written;
            } else seq = this.write(item, tx);
          } catch (err) {
            // SQLite rolled the whole transaction back itself (disk full, I/O error): the batch failed
            if (!sqlite.inTransaction) throw err;
            // a refusal wrote nothing; a write that failed part-way did, and only a savepoint can take it back
            if (!isolated && tx.events.length + tx.params.size > 0) throw REDO;
            this.commit.storageFailed(rt, err);
            answers.push(() => item.reject(err));
            continue;
          }
          let m = memory.get(rt);
          if (!m) {
            m = {
              snapshot: rt.snapshot,
              lastSeq: rt.lastSeq,
              counted: rt.counted,
              updatedAt: rt.updatedAt,
              params: new Map(),
            };
            memory.set(rt, m);
          }
          for (const k of tx.params.keys()) if (!m.params.has(k)) m.params.set(k, rt.params.get(k));
          const plain = tx.snapshot === rt.snapshot && tx.actions.length === 0 && !rt.terminal;
          // the next write of the batch builds on this one
          tx.commitTo(rt);
          staged.push({ tx, before, since: arrived[i], plain });
          answers.push(() => item.resolve(seq));
        }
      });
    } catch (err) {
      // nothing of the batch is stored, so memory goes back to what is
      for (const [rt, m] of memory) {
        rt.snapshot = m.snapshot;
        rt.lastSeq = m.lastSeq;
        rt.counted = m.counted;
        rt.updatedAt = m.updatedAt;
        for (const [k, v] of m.params) {
          if (v) rt.params.set(k, v);
          else rt.params.delete(k);
        }
      }
      if (err === REDO) return false;
      for (const item of batch) this.commit.storageFailed(item.rt, err);
      if (!storageError(err)) this.log.error({ err }, "group commit of parameter writes failed");
      for (const item of batch) item.reject(err);
      return true;
    }
    observeCommit("group", start);
    const woken = this.publish(staged);
    // the readers a turn woke are answered first: a writer's ack (encoded and written on this thread) would otherwise
    // go out ahead of the answers it unblocked. Both follow the commit; the writers get theirs on the next turn.
    if (woken > 0) setImmediate(() => answerAll(answers));
    else answerAll(answers);
    return true;
  }

  /** A write inside the batch's transaction: its row changes and its stored answer. */
  private write(item: GroupedWrite, tx: RunTx): number | null {
    // its event seq, or null when nothing changed
    const seq = tx.setParam(item.key, item.value);
    this.commit.outbox(tx);
    // a write that moved the machine writes its snapshot now; a plain one leaves the run row alone
    if (tx.snapshot !== tx.rt.snapshot) tx.flush();
    if (item.slot) this.commit.storeAnswer(tx.rt, item.slot, { seq });
    return seq;
  }

  /**
   * After the commit: waiters woken, and each run's events of the turn pushed together, in seq order. Returns how
   * many plain writes' waiters it woke.
   */
  private publish(staged: Staged[]): number {
    let woken = 0;
    const queued = new Map<RunRuntime, RunEvent[]>();
    const send = (rt: RunRuntime) => {
      const events = queued.get(rt);
      queued.delete(rt);
      if (!events?.length) return;
      // the watchers' push (and the bus's other listeners) waits for the woken readers' answers, in this same turn
      if (woken > 0) this.commit.holdEvents(rt.id, events);
      else this.commit.emitEvents(rt.id, events);
    };
    for (const { tx, before, since, plain } of staged) {
      try {
        if (plain) {
          woken += this.commit.wake(tx.rt, tx, since);
          const events = queued.get(tx.rt);
          if (events) events.push(...tx.events);
          else queued.set(tx.rt, [...tx.events]);
        } else {
          // what the machine did goes out after the values written before it
          send(tx.rt);
          this.commit.afterCommit(tx.rt, tx, before, since);
        }
      } catch (err) {
        this.log.error({ err, run: tx.rt.id }, "after a parameter write");
      }
    }
    for (const rt of [...queued.keys()]) {
      try {
        send(rt);
      } catch (err) {
        this.log.error({ err, run: rt.id }, "after a parameter write");
      }
    }
    return woken;
  }
}

function answerAll(answers: (() => void)[]): void {
  for (const answer of answers) answer();
}
