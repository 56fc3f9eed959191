import type { Logger } from "pino";
import type { RunMachineEvent } from "../../core/run-machine.js";
import { SlipError } from "../../protocol/errors.js";
import { DEFAULT_LIMITS, type Limits } from "../../protocol/limits.js";
import type { RunEvent } from "../../protocol/run.js";
import type { Bus } from "../bus.js";
import type { Db } from "../db/open.js";
import { observeCommit, observeWake } from "../ops/hot-metrics.js";
import { storageError, storageTrouble as troubleKind } from "../storage.js";
import type { RunRegistry } from "./run-registry.js";
import { RunStatements, RunTx } from "./run-tx.js";
import type { RunRuntime } from "./runtime.js";

export type EffectRunner = (rt: RunRuntime, actions: string[], tx: RunTx) => void;

/** Where the answer to an agent's request that acts is stored: its instance and `<event> <request id>`. */
export interface AnswerSlot {
  instance: string;
  request: string;
}

/** What a run looked like before a transaction, to tell afterwards what changed. */
export interface RunBefore {
  state: string;
  abort: string | null;
  recovery: boolean;
  ctx: unknown;
}

/** How often the server tries again to record that a full disk is writable again. */
const STORAGE_PROBE_MS = 1000;

/**
 * Feeds the run machine inside a transaction and insists it took the event: when the machine refuses, a CONFLICT
 * naming the state is thrown, which rolls the whole transaction back, so the event log never records a command
 * the machine did not take.
 */
export function machineChecked(tx: RunTx, event: RunMachineEvent, refused?: string): void {
  if (!tx.machine(event)) {
    throw new SlipError("CONFLICT", refused ?? `'${event.type}' is not allowed while the run is ${tx.state}`);
  }
}

export function beforeOf(rt: RunRuntime): RunBefore {
  return { state: rt.state, abort: rt.abort, recovery: rt.recoveryMode, ctx: rt.snapshot.context };
}

/**
 * Every change to a run goes through `transact`: one SQLite transaction that persists the events, parameter
 * values and the machine snapshot together, then — only after commit — updates memory, wakes waiters,
 * publishes to sockets and starts the side effects the machine asked for.
 */
export class RunCommit {
  readonly statements: RunStatements;
  effects: EffectRunner = () => {};
  /** inside each run transaction: what its events owe others, stored with them (server/notify/outbox.ts) */
  outbox: (tx: RunTx) => void = () => {};
  /**
   * before every transaction of a run, and before a stored answer is read: the journaled parameter writes SQLite has
   * not got yet are stored (run-group-commit.ts), so that events are stored in seq order. Throws when they cannot be.
   */
  beforeWrite: () => void = () => {};
  /** the limits in force (an admin changes them at run time; app.ts reads them from the settings) */
  limits: () => Limits = () => DEFAULT_LIMITS;

  constructor(
    readonly db: Db,
    readonly bus: Bus,
    readonly log: Logger,
    readonly registry: RunRegistry,
  ) {
    this.statements = new RunStatements(db.$client);
  }

  // ---- stored answers of agent requests ---------------------------------------------------------------------

  /** set by `withAnswer` for the first transaction of an agent request, which stores its answer */
  private answerSlot: { slot: AnswerSlot; answer: (tx: RunTx) => unknown } | null = null;

  /**
   * Runs an agent request that acts: the first transaction it makes stores `answer(tx)` (what the request's ack
   * will say) under `slot`, in that same transaction, so a re-send after a server crash finds either no effect and
   * no answer, or both. A request that makes no transaction (nothing to do) stores nothing and is simply redone.
   */
  withAnswer<T>(slot: AnswerSlot | null, answer: (tx: RunTx) => unknown, fn: () => T): T {
    if (!slot) return fn();
    this.answerSlot = { slot, answer };
    try {
      return fn();
    } finally {
      this.answerSlot = null;
    }
  }

  /** The stored answer to an agent's request, if it acted before (possibly before a restart of the server). */
  storedAnswer(runId: string, slot: AnswerSlot): { answer: unknown } | null {
    this.beforeWrite();
    const row = this.statements.getAnswer.get(runId, slot.instance, slot.request) as { answer: string } | undefined;
    return row ? { answer: JSON.parse(row.answer) } : null;
  }

  storeAnswer(rt: RunRuntime, slot: AnswerSlot, answer: unknown): void {
    this.statements.putAnswer.run(rt.id, slot.instance, slot.request, JSON.stringify(answer ?? null));
  }

  // ---- the commit pipeline ------------------------------------------------------------------------------------

  transact<T>(rt: RunRuntime, actor: string, fn: (tx: RunTx) => T): T {
    try {
      // first: what it pushes could make other transactions, which must come before this one's seqs are taken
      this.beforeWrite();
    } catch (err) {
      this.storageFailed(rt, err);
      throw err;
    }
    const tx = new RunTx(rt, actor, this.statements);
    const before = beforeOf(rt);
    // only the request's first transaction: what its effect causes later (effects, other runs) is not its answer
    const answering = this.answerSlot;
    this.answerSlot = null;
    let result: T;
    const start = performance.now();
    try {
      result = this.db.$client.transaction(() => {
        const value = fn(tx);
        this.outbox(tx);
        tx.flushIfChanged();
        if (answering) this.storeAnswer(rt, answering.slot, answering.answer(tx));
        return value;
      })();
    } catch (err) {
      this.storageFailed(rt, err);
      throw err;
    }
    observeCommit("run", start);
    tx.commitTo(rt);
    this.afterCommit(rt, tx, before, start);
    return result;
  }

  /** Sends an event to the run machine; one the current state does not take is a conflict naming the state. */
  send(rt: RunRuntime, actor: string, event: RunMachineEvent, extra?: (tx: RunTx) => void): void {
    this.transact(rt, actor, (tx) => {
      machineChecked(tx, event);
      extra?.(tx);
    });
  }

  /** Answers the blocked ss-get waiters of the values the transaction set (after its commit); how many it woke. */
  wake(rt: RunRuntime, tx: RunTx, since?: number): number {
    let woken = 0;
    for (const [key, entry] of tx.params) {
      if (entry.value === null) continue;
      const n = rt.waiters.wake(key, entry.value);
      if (n > 0 && since !== undefined) observeWake(since);
      woken += n;
    }
    return woken;
  }

  // ---- the events' push to watchers ---------------------------------------------------------------------------

  /** committed events whose push waits for the answers of the readers their commit woke (`holdEvents`) */
  private held: [runId: string, events: RunEvent[]][] = [];

  /** Pushes a run's committed events to the bus (its watchers); any held back go first, so seq order is kept. */
  emitEvents(runId: string, events: RunEvent[]): void {
    if (this.held.length > 0) this.releaseEvents();
    if (events.length > 0) this.bus.emit("events", runId, events);
  }

  /**
   * Holds a turn's events back until the readers its commit woke are answered, still within this macrotask: a
   * tick queued from a microtask runs once the microtask queue is empty, so after the promise chains that write
   * those answers (their encoding and the kernel's writes), and before any other I/O or timer can commit more.
   */
  holdEvents(runId: string, events: RunEvent[]): void {
    if (this.held.push([runId, events]) > 1) return;
    queueMicrotask(() => process.nextTick(() => this.releaseEvents()));
  }

  private releaseEvents(): void {
    const held = this.held;
    this.held = [];
    for (const [runId, events] of held) {
      // in a tick of its own nothing else would catch a listener's error: it would take the process down
      try {
        this.bus.emit("events", runId, events);
      } catch (err) {
        this.log.error({ err, run: runId }, "after a parameter write");
      }
    }
  }

  /** `since`: when the write reached the pipeline (performance.now()), for the wake-latency histogram */
  afterCommit(rt: RunRuntime, tx: RunTx, before: RunBefore, since?: number): void {
    this.wake(rt, tx, since);
    if (before.abort === null && rt.abort !== null) rt.waiters.abort(rt.abort);
    this.emitEvents(rt.id, tx.events);
    if (rt.snapshot.context !== before.ctx) this.bus.emit("agent-state", rt.id);
    // a new run (its "created" event) is news for every runs list, though it has no previous state to differ from
    if (before.state !== rt.state || before.abort !== rt.abort || tx.events.some((e) => e.body.type === "created")) {
      this.bus.emit("run-changed", { runId: rt.id, state: rt.state, abort: rt.abort, seq: rt.lastSeq });
    }
    if (rt.terminal) rt.waiters.closeAll(new SlipError("CONFLICT", `run ended ${rt.state}`));
    if (rt.terminal && before.state !== rt.state) {
      // its agents' tokens are dead with the run: no re-send can arrive any more
      try {
        this.statements.deleteAnswers.run(rt.id);
      } catch (err) {
        this.log.warn({ err, run: rt.id }, "dropping the stored answers of an ended run");
      }
      this.registry.ended(rt);
    }
    // a kept run gets its orchestrator report (effects.ts): an event, not a machine action
    if (tx.actions.length > 0 || tx.events.some((e) => e.body.type === "kept")) {
      try {
        this.effects(rt, tx.actions, tx);
      } catch (err) {
        this.log.error({ err, run: rt.id }, "run effect failed");
      }
    }
  }

  // ---- storage full or read-only --------------------------------------------------------------------------------

  /** runs a write of which failed for want of storage: since when, and why (their events say it once it is back) */
  private readonly storageTrouble = new Map<
    string,
    { since: string; cause: string; kind: "full" | "read-only" | "io-error" }
  >();
  private storageProbe: NodeJS.Timeout | null = null;

  /** Notes a failed write of the run if storage was the cause (disk full, read-only database). */
  storageFailed(rt: RunRuntime, err: unknown): void {
    if (!storageError(err)) return;
    if (!this.storageTrouble.has(rt.id)) {
      const e = err as { code?: string; message?: string };
      const cause = `${e.code}: ${e.message ?? ""}`.slice(0, 300);
      this.storageTrouble.set(rt.id, { since: new Date().toISOString(), cause, kind: troubleKind(err) ?? "full" });
      this.log.warn({ err, run: rt.id }, "storage full or read-only: the run's writes are refused until it is back");
    }
    if (!this.storageProbe) {
      // the events cannot be written while the disk is full: they are, with the recovery, once a write succeeds
      this.storageProbe = setTimeout(() => {
        this.storageProbe = null;
        this.recordStorageBack();
      }, STORAGE_PROBE_MS);
      this.storageProbe.unref();
    }
  }

  private recordStorageBack(): void {
    for (const [runId, trouble] of this.storageTrouble) {
      const rt = this.registry.tryGet(runId);
      if (!rt) {
        this.storageTrouble.delete(runId);
        continue;
      }
      try {
        this.transact(rt, "server", (tx) => {
          const { kind, ...what } = trouble;
          tx.event({ type: "storage", status: kind, ...what });
          tx.event({ type: "storage", status: "back", ...what });
        });
        this.storageTrouble.delete(runId);
      } catch (err) {
        // still full: transact has armed the next probe
        if (storageError(err)) return;
        this.log.error({ err, run: runId }, "recording the storage recovery");
        this.storageTrouble.delete(runId);
      }
    }
  }
}
