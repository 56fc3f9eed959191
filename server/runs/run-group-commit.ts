import type { Logger } from "pino";
import type { RunEvent } from "../../protocol/run.js";
import type { Db } from "../db/open.js";
import type { JournalRows, WriteJournal } from "../db/write-journal.js";
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

/** A journaled turn: its rows, stored in SQLite right after it, then its events pushed and its writers answered. */
interface Journaled {
  rows: JournalRows;
  /** each run's events of the turn, in seq order */
  events: Map<RunRuntime, RunEvent[]>;
  answers: (() => void)[];
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
 *
 * With a journal (server/db/write-journal.ts), a turn of plain writes of runs with waits open is first appended there
 * in one `write()`, as durable as SQLite's commit, and the readers it wakes are answered at once; its rows go to
 * SQLite at the next turn, before anything else can write a run (`RunCommit.beforeWrite`), and only then are its
 * events pushed and its writers answered. SQLite's transaction was a third of a wake (bench/RESULTS.md); the readers
 * no longer wait for it.
 */
export class GroupCommit {
  private pending: GroupedWrite[] = [];
  /** when each pending write arrived (performance.now()), for the wake-latency histogram */
  private arrived: number[] = [];
  /** runs a function in a transaction (a savepoint when nested): made once, not per turn and per write */
  private readonly inTransaction: (fn: () => void) => void;
  /** journaled turns SQLite has not got yet, oldest first */
  private unstored: Journaled[] = [];
  /** storing journaled rows failed (storage full): turns go through SQLite, and fail alike, until it succeeds */
  private storeFailed = false;

  constructor(
    private readonly db: Db,
    private readonly commit: RunCommit,
    private readonly log: Logger,
    private readonly journal: WriteJournal | null = null,
  ) {
    this.inTransaction = db.$client.transaction((fn: () => void) => fn());
    commit.beforeWrite = () => this.storeJournaled();
  }

  /** Commits what is queued and stores what is journaled (their rows are in the journal if this fails). */
  close(): void {
    if (this.pending.length > 0) this.flush();
    try {
      this.storeJournaled();
    } catch {
      // logged; the journal is replayed at the next open
    }
    this.journal?.close();
  }

  /** Queues a write for the group commit of this turn of the event loop. */
  add(item: GroupedWrite): void {
    this.arrived.push(performance.now());
    if (this.pending.push(item) === 1) setImmediate(() => this.flush());
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending.splice(0);
    const arrived = this.arrived.splice(0);
    // the journal is for turns that may wake a reader: it costs a turn's writers a system call and their answer a
    // turn, which under a flood of writes nobody waits for (bench/RESULTS.md figure 4) is all it would do
    const journal = this.journal && !this.storeFailed && batch.some((w) => w.rt.waiters.waiting) ? this.journal : null;
    if (journal && this.journaled(journal, batch, arrived)) return;
    try {
      // what was journaled is stored first: a run's events reach SQLite and the watchers in seq order
      this.storeJournaled();
    } catch (err) {
      for (const item of batch) {
        this.commit.storageFailed(item.rt, err);
        item.reject(err);
      }
      return;
    }
    if (!this.attempt(batch, arrived, false)) this.attempt(batch, arrived, true);
  }

  /**
   * A turn through the journal; false, with nothing written anywhere and memory as it was, when it cannot be (a
   * write that moves the run's machine, or the journal's write failed): it then goes through SQLite.
   */
  private journaled(journal: WriteJournal, batch: GroupedWrite[], arrived: number[]): boolean {
    const rows: JournalRows = { events: [], answers: [] };
    const memory = new Map<RunRuntime, RunMemory>();
    const staged: { tx: RunTx; since: number }[] = [];
    const answers: (() => void)[] = [];
    for (const [i, item] of batch.entries()) {
      const { rt } = item;
      const tx = new RunTx(rt, item.actor, this.commit.statements, rows.events);
      const mark = rows.events.length;
      let seq: number | null;
      try {
        item.check();
        seq = tx.setParam(item.key, item.value);
      } catch (err) {
        // a refusal: what it wrote is in these rows only
        rows.events.length = mark;
        answers.push(() => item.reject(err));
        continue;
      }
      if (tx.snapshot !== rt.snapshot || tx.actions.length > 0 || rt.terminal) {
        restore(memory);
        return false;
      }
      // no outbox: a parameter's event is no webhook's news (server/notify/outbox.ts)
      if (item.slot) rows.answers.push([rt.id, item.slot.instance, item.slot.request, JSON.stringify({ seq })]);
      remember(memory, rt, tx);
      tx.commitTo(rt);
      staged.push({ tx, since: arrived[i] });
      answers.push(() => item.resolve(seq));
    }
    if (rows.events.length + rows.answers.length > 0) {
      try {
        journal.append(rows);
      } catch (err) {
        restore(memory);
        this.log.warn({ err }, "the parameter writes' journal was not written: the turn goes to SQLite");
        return false;
      }
    }
    const events = new Map<RunRuntime, RunEvent[]>();
    for (const { tx, since } of staged) {
      try {
        this.commit.wake(tx.rt, tx, since);
      } catch (err) {
        this.log.error({ err, run: tx.rt.id }, "after a parameter write");
      }
      const list = events.get(tx.rt);
      if (list) list.push(...tx.events);
      else events.set(tx.rt, [...tx.events]);
    }
    if (this.unstored.push({ rows, events, answers }) === 1) {
      setImmediate(() => {
        try {
          this.storeJournaled();
        } catch {
          // logged; stored by the next write of a run, or by the storage probe (RunCommit.storageFailed)
        }
      });
    }
    return true;
  }

  /**
   * Stores the journaled turns SQLite has not got, then pushes their events and answers their writers. Throws when
   * SQLite fails (storage full): the writers are answered all the same, their writes are in the journal (a restart
   * stores them), and the turns stay to be stored by the next write.
   */
  storeJournaled(): void {
    if (this.unstored.length === 0) return;
    const turns = this.unstored;
    const start = performance.now();
    try {
      this.inTransaction(() => {
        const st = this.commit.statements;
        for (const { rows } of turns) {
          for (const e of rows.events) st.insertEvent.run(...e);
          for (const a of rows.answers) st.putAnswer.run(...a);
        }
      });
    } catch (err) {
      this.storeFailed = true;
      for (const turn of turns) {
        for (const rt of turn.events.keys()) this.commit.storageFailed(rt, err);
        answerAll(turn.answers.splice(0));
      }
      if (!storageError(err)) this.log.error({ err }, "storing journaled parameter writes failed");
      throw err;
    }
    this.unstored = [];
    this.storeFailed = false;
    observeCommit("group", start);
    this.journal?.applied();
    for (const turn of turns) {
      for (const [rt, events] of turn.events) {
        try {
          this.commit.emitEvents(rt.id, events);
        } catch (err) {
          this.log.error({ err, run: rt.id }, "after a parameter write");
        }
      }
      answerAll(turn.answers);
    }
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
          remember(memory, rt, tx);
          const plain = tx.snapshot === rt.snapshot && tx.actions.length === 0 && !rt.terminal;
          // the next write of the batch builds on this one
          tx.commitTo(rt);
          staged.push({ tx, before, since: arrived[i], plain });
          answers.push(() => item.resolve(seq));
        }
      });
    } catch (err) {
      // nothing of the batch is stored, so memory goes back to what is
      restore(memory);
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

/** Notes what a write is about to change in its run's memory (before `tx.commitTo`), to put it back. */
function remember(memory: Map<RunRuntime, RunMemory>, rt: RunRuntime, tx: RunTx): void {
  let m = memory.get(rt);
  if (!m) {
    m = { snapshot: rt.snapshot, lastSeq: rt.lastSeq, counted: rt.counted, updatedAt: rt.updatedAt, params: new Map() };
    memory.set(rt, m);
  }
  for (const k of tx.params.keys()) if (!m.params.has(k)) m.params.set(k, rt.params.get(k));
}

/** Puts the runs' memory back as it was before a batch that was not stored. */
function restore(memory: Map<RunRuntime, RunMemory>): void {
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
}

function answerAll(answers: (() => void)[]): void {
  for (const answer of answers) answer();
}
