import type { Logger } from "pino";
import { addLogChunk, rebuildLogBudget } from "../../core/log-budget.js";
import { nodeParams } from "../../core/params.js";
import type { RunMachineEvent } from "../../core/run-machine.js";
import { SlipError } from "../../protocol/errors.js";
import { parseKey } from "../../protocol/keys.js";
import { DEFAULT_LIMITS, type Limits } from "../../protocol/limits.js";
import type { InstanceSummary, RunDetail, RunEventBody, RunSummary } from "../../protocol/run.js";
import type { Bus } from "../bus.js";
import type { Db } from "../db/open.js";
import { storageError } from "../storage.js";
import { sshKeyFingerprint } from "./create.js";
import { loadRun } from "./load.js";
import { checkEventBudget, checkValueSize } from "./quota.js";
import { RunStatements, RunTx } from "./run-tx.js";
import type { InstanceRecord, ParamEntry, RunRuntime } from "./runtime.js";
import type { WaitOwner } from "./waiters.js";

/** Ended runs kept in memory (the most recent): they are what people open right after the end. */
const ENDED_KEPT = 64;

/** Keys a node or user may read but only the server writes. */
const READ_ONLY_NAMES = new Set([
  "abort",
  "complete",
  "nodename",
  "id",
  "cloud",
  "cloudservice",
  "instanceid",
  "url.ssh",
  "vmstate",
  "is.orchestrator",
  "image.id",
  "image.platform",
]);
const READ_ONLY_GLOBAL = new Set(["state", "abort", "recovery.mode", "category", "groups"]);

export interface GetOptions {
  timeout: number;
  noblock: boolean;
  ignoreAbort: boolean;
  /** whose wait it is, so it can be dropped when its command exits or its agent disconnects */
  owner?: WaitOwner;
}

export type EffectRunner = (rt: RunRuntime, actions: string[], tx: RunTx) => void;

/** Where the answer to an agent's request that acts is stored: its instance and `<event> <request id>`. */
export interface AnswerSlot {
  instance: string;
  request: string;
}

/**
 * How far past the last stored log chunk a chunk number may be: the agent numbers its chunks 1, 2, 3… and a few are
 * in flight at once; a number far ahead is a broken or hostile counter, which would make every later chunk look
 * "already stored" (and be dropped with an ok answer).
 */
export const MAX_CHUNK_AHEAD = 10_000;

/** How often the server tries again to record that a full disk is writable again. */
const STORAGE_PROBE_MS = 1000;

/**
 * Every change to a run goes through `transact`: one SQLite transaction that persists the events, parameter
 * values and the machine snapshot together, then — only after commit — updates memory, wakes waiters,
 * publishes to sockets and starts the side effects the machine asked for.
 */
export class RunService {
  private readonly runtimes = new Map<string, RunRuntime>();
  readonly statements: RunStatements;
  effects: EffectRunner = () => {};
  /** the limits in force (an admin changes them at run time; app.ts reads them from the settings) */
  limits: () => Limits = () => DEFAULT_LIMITS;
  /** whether an instance's agent has a connection now (the agent namespace knows; app.ts wires it) */
  agentConnected: (runId: string, instance: string) => boolean = () => false;

  constructor(
    readonly db: Db,
    readonly bus: Bus,
    readonly log: Logger,
  ) {
    this.statements = new RunStatements(db.$client);
  }

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

  tryGet(runId: string): RunRuntime | null {
    try {
      return this.get(runId);
    } catch {
      return null;
    }
  }

  forget(runId: string): void {
    this.runtimes.delete(runId);
  }

  adopt(rt: RunRuntime): void {
    this.runtimes.set(rt.id, rt);
  }

  activeRunIds(): string[] {
    return (
      this.db.$client.prepare("select id from runs where state not in ('Done','Aborted','Cancelled')").all() as {
        id: string;
      }[]
    ).map((r) => r.id);
  }

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
    const row = this.statements.getAnswer.get(runId, slot.instance, slot.request) as { answer: string } | undefined;
    return row ? { answer: JSON.parse(row.answer) } : null;
  }

  private storeAnswer(rt: RunRuntime, slot: AnswerSlot, answer: unknown): void {
    this.statements.putAnswer.run(rt.id, slot.instance, slot.request, JSON.stringify(answer ?? null));
  }

  transact<T>(rt: RunRuntime, actor: string, fn: (tx: RunTx) => T): T {
    const tx = new RunTx(rt, actor, this.statements);
    const before = { state: rt.state, abort: rt.abort, recovery: rt.recoveryMode, ctx: rt.snapshot.context };
    // only the request's first transaction: what its effect causes later (effects, other runs) is not its answer
    const answering = this.answerSlot;
    this.answerSlot = null;
    let result: T;
    try {
      result = this.db.$client.transaction(() => {
        const value = fn(tx);
        if (tx.events.length > 0 || tx.snapshot !== rt.snapshot) tx.flush();
        if (answering) this.storeAnswer(rt, answering.slot, answering.answer(tx));
        return value;
      })();
    } catch (err) {
      this.storageFailed(rt, err);
      throw err;
    }
    tx.commitTo(rt);
    this.afterCommit(rt, tx, before);
    return result;
  }

  /** runs a write of which failed for want of storage: since when, and why (their events say it once it is back) */
  private readonly storageTrouble = new Map<string, { since: string; cause: string }>();
  private storageProbe: NodeJS.Timeout | null = null;

  /** Notes a failed write of the run if storage was the cause (disk full, read-only database). */
  storageFailed(rt: RunRuntime, err: unknown): void {
    if (!storageError(err)) return;
    if (!this.storageTrouble.has(rt.id)) {
      const e = err as { code?: string; message?: string };
      const cause = `${e.code}: ${e.message ?? ""}`.slice(0, 300);
      this.storageTrouble.set(rt.id, { since: new Date().toISOString(), cause });
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
      const rt = this.tryGet(runId);
      if (!rt) {
        this.storageTrouble.delete(runId);
        continue;
      }
      try {
        this.transact(rt, "server", (tx) => {
          tx.event({ type: "storage", status: "full", ...trouble });
          tx.event({ type: "storage", status: "back", ...trouble });
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

  private afterCommit(
    rt: RunRuntime,
    tx: RunTx,
    before: { state: string; abort: string | null; recovery: boolean; ctx: unknown },
  ): void {
    for (const [key, entry] of tx.params) if (entry.value !== null) rt.waiters.wake(key, entry.value);
    if (before.abort === null && rt.abort !== null) rt.waiters.abort(rt.abort);
    if (tx.events.length > 0) this.bus.emit("events", rt.id, tx.events);
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
      // the most recently ended run goes to the end of the eviction order
      this.runtimes.delete(rt.id);
      this.runtimes.set(rt.id, rt);
      this.trimEnded();
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

  /** Sends an event to the run machine; a command the current state does not accept is a conflict. */
  send(rt: RunRuntime, actor: string, event: RunMachineEvent, extra?: (tx: RunTx) => void): void {
    this.transact(rt, actor, (tx) => {
      if (!tx.machine(event)) {
        throw new SlipError("CONFLICT", `'${event.type}' is not allowed while the run is ${tx.state}`);
      }
      extra?.(tx);
    });
  }

  // ---- runtime parameters -------------------------------------------------------------------------------

  /** Checks a key is declared; an agent asking for an unknown key aborts the run, as in SlipStream. */
  requireKey(rt: RunRuntime, key: string, actor: string, abortOnUnknown: boolean): void {
    if (rt.params.has(key)) return;
    const message = parseKey(key) ? `unknown key '${key}'` : `'${key}' is not a valid key`;
    if (abortOnUnknown) {
      // the caller must get its UNKNOWN_KEY answer (exit 7) before the abort reaches it (which would be exit 8)
      setImmediate(() => {
        if (rt.terminal) return;
        try {
          // the asking instance's own abort is set too: its page shows it failed, with the commands to debug it
          const instance = actor.startsWith("node:") ? actor.slice(5) : null;
          this.abort(rt, `${actor.replace(/^node:/, "")}: ${message}`, actor, instance);
        } catch (err) {
          this.log.error({ err, run: rt.id }, "abort after unknown key failed");
        }
      });
    }
    throw new SlipError("UNKNOWN_KEY", message);
  }

  async getParam(rt: RunRuntime, key: string, opts: GetOptions, actor: string, abortOnUnknown = true): Promise<string> {
    this.requireKey(rt, key, actor, abortOnUnknown);
    if (rt.abort !== null && !opts.ignoreAbort) throw new SlipError("ABORTED", `run aborted: ${rt.abort}`);
    const value = rt.params.get(key)!.value;
    if (value !== null) return value;
    if (opts.noblock) throw new SlipError("NOT_SET", `'${key}' is not set`);
    if (rt.terminal) throw new SlipError("CONFLICT", `run ended ${rt.state}`);
    const who = opts.owner?.instance;
    const max = this.limits().waitsPerInstance;
    if (who !== undefined && rt.waiters.openBy(who) >= max) {
      throw new SlipError(
        "LIMIT_EXCEEDED",
        `${who} already waits for ${max} values at once, its limit; an admin can raise 'waitsPerInstance'`,
      );
    }
    return rt.waiters.wait(key, opts.timeout, opts.ignoreAbort, opts.owner);
  }

  setParam(
    rt: RunRuntime,
    key: string,
    value: string,
    opts: { ignoreAbort: boolean },
    actor: string,
    abortOnUnknown = true,
  ): number | null {
    this.checkSet(rt, key, value, opts, actor, abortOnUnknown);
    return this.transact(rt, actor, (tx) => tx.setParam(key, value));
  }

  /**
   * setParam for agents, with group commit: the writes that arrive in one turn of the event loop share one
   * SQLite transaction (a savepoint each), and each is answered only after that commit — as durable as
   * setParam, without paying a commit per write under load. Refusals are thrown at once, like setParam's.
   */
  setParamGrouped(
    rt: RunRuntime,
    key: string,
    value: string,
    opts: { ignoreAbort: boolean },
    actor: string,
    slot: AnswerSlot | null = null,
  ): Promise<number | null> {
    this.checkSet(rt, key, value, opts, actor, true);
    return new Promise((resolve, reject) => {
      if (this.pendingSets.push({ rt, key, value, opts, actor, slot, resolve, reject }) === 1) {
        setImmediate(() => this.commitPendingSets());
      }
    });
  }

  private pendingSets: {
    rt: RunRuntime;
    key: string;
    value: string;
    opts: { ignoreAbort: boolean };
    actor: string;
    slot: AnswerSlot | null;
    resolve: (seq: number | null) => void;
    reject: (err: unknown) => void;
  }[] = [];

  private commitPendingSets(): void {
    const batch = this.pendingSets.splice(0);
    const staged: { tx: RunTx; before: Parameters<RunService["afterCommit"]>[2] }[] = [];
    const answers: (() => void)[] = [];
    // what the batch changes in memory, to put back if the commit fails
    const memory = new Map<
      RunRuntime,
      { snapshot: RunRuntime["snapshot"]; lastSeq: number; params: Map<string, ParamEntry | undefined> }
    >();
    const sqlite = this.db.$client;
    try {
      sqlite.transaction(() => {
        for (const item of batch) {
          const { rt } = item;
          try {
            // the run may have changed since the write arrived (aborted, ended): check again, without aborting
            this.checkSet(rt, item.key, item.value, item.opts, item.actor, false);
            const tx = new RunTx(rt, item.actor, this.statements);
            const before = { state: rt.state, abort: rt.abort, recovery: rt.recoveryMode, ctx: rt.snapshot.context };
            const seq = sqlite.transaction(() => {
              const v = tx.setParam(item.key, item.value);
              if (tx.events.length > 0 || tx.snapshot !== rt.snapshot) tx.flush();
              if (item.slot) this.storeAnswer(rt, item.slot, { seq: v });
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
            staged.push({ tx, before });
            answers.push(() => item.resolve(seq));
          } catch (err) {
            this.storageFailed(rt, err);
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
      for (const item of batch) this.storageFailed(item.rt, err);
      if (!storageError(err)) this.log.error({ err }, "group commit of parameter writes failed");
      for (const item of batch) item.reject(err);
      return;
    }
    for (const { tx, before } of staged) {
      try {
        this.afterCommit(tx.rt, tx, before);
      } catch (err) {
        this.log.error({ err, run: tx.rt.id }, "after a parameter write");
      }
    }
    for (const answer of answers) answer();
  }

  private checkSet(
    rt: RunRuntime,
    key: string,
    value: string,
    opts: { ignoreAbort: boolean },
    actor: string,
    abortOnUnknown: boolean,
  ): void {
    this.requireKey(rt, key, actor, abortOnUnknown);
    const parsed = parseKey(key)!;
    if (
      (parsed.kind === "global" && READ_ONLY_GLOBAL.has(parsed.name)) ||
      parsed.kind === "node" ||
      (parsed.kind === "instance" && READ_ONLY_NAMES.has(parsed.name))
    ) {
      // say what the key is, so the script's author sees why it is not theirs to set
      const what = rt.params.get(key)?.description;
      const how = parsed.kind === "node" ? "; scale the node to change it" : "";
      throw new SlipError(
        "BAD_REQUEST",
        `key '${key}' is read-only: SlipStream sets it${what ? ` (${what.charAt(0).toLowerCase()}${what.slice(1)})` : ""}${how}`,
      );
    }
    if (rt.terminal) throw new SlipError("CONFLICT", `run ended ${rt.state}`);
    if (rt.abort !== null && !opts.ignoreAbort) throw new SlipError("ABORTED", `run aborted: ${rt.abort}`);
    const limits = this.limits();
    checkValueSize(key, value, limits);
    checkEventBudget(rt, limits);
  }

  async getAll(rt: RunRuntime, node: string, name: string, timeout: number, actor: string, owner?: WaitOwner) {
    const live = rt.liveInstances(node);
    if (live.length === 0 && !rt.spec.nodes.some((n) => n.name === node)) {
      throw new SlipError("UNKNOWN_KEY", `unknown node '${node}'`);
    }
    const opts = { timeout, noblock: false, ignoreAbort: false, owner };
    const values = await Promise.all(live.map((i) => this.getParam(rt, `${i.name}:${name}`, opts, actor)));
    return live.map((i, k) => ({ instance: i.name, value: values[k] }));
  }

  // ---- abort, reset, terminate ----------------------------------------------------------------------------

  /** Raises the abort flags: the instance's own `abort`, and `ss:abort` (first message wins). */
  abort(rt: RunRuntime, message: string, actor: string, instance: string | null = null): void {
    if (rt.terminal) throw new SlipError("CONFLICT", `run already ended ${rt.state}`);
    // the first abort always lands; the ones after it only add messages, which a loop could write forever
    if (rt.abort !== null && actor !== "server") checkEventBudget(rt, this.limits());
    this.transact(rt, actor, (tx) => {
      const first = tx.snapshot.context.abort === null;
      tx.event({ type: "abort", message, instance, first });
      // first message wins, per instance as for the run (SlipStream's abort keys)
      if (instance && tx.param(`${instance}:abort`) && tx.param(`${instance}:abort`)?.value == null) {
        tx.setParam(`${instance}:abort`, message);
      }
      tx.machine({ type: "abort", message, instance });
    });
  }

  /**
   * An instance's machine could not be started (run-rules R8b): it leaves the run's count and the run aborts with
   * the reason, set on the instance too; the other instances carry on to send their reports.
   */
  instanceFailed(rt: RunRuntime, instance: string, message: string): void {
    this.transact(rt, "server", (tx) => {
      const first = tx.snapshot.context.abort === null;
      if (!tx.machine({ type: "instance.failed", instance, message })) {
        // it came up after all, or the run is ending: an abort like any other, if there is still a run to abort
        if (!rt.terminal && tx.state !== "Finalizing") {
          tx.event({ type: "abort", message, instance, first });
          tx.machine({ type: "abort", message, instance });
        }
        return;
      }
      tx.event({ type: "abort", message, instance, first });
      if (tx.param(`${instance}:abort`)) tx.setParam(`${instance}:abort`, message);
      const node = rt.instances.get(instance)?.node;
      if (node) {
        const live = tx.liveInstances(node).map((n) => Number(n.split(".")[1]));
        for (const p of nodeParams(
          node,
          live.sort((a, b) => a - b),
        ))
          tx.setParam(p.key, p.value);
      }
    });
  }

  resetAbort(rt: RunRuntime, actor: string): void {
    this.send(rt, actor, { type: "abort.reset" }, (tx) => {
      tx.event({ type: "abort-reset" });
      for (const i of rt.instances.values())
        if (tx.param(`${i.name}:abort`)?.value != null) tx.setParam(`${i.name}:abort`, null);
    });
  }

  /** Ends the run (R10). In Finalizing it is already ending: accepted, and changes nothing (a second click, a retry). */
  terminate(rt: RunRuntime, actor: string): void {
    if (rt.state === "Finalizing") return;
    if (rt.terminal) throw new SlipError("CONFLICT", `the run is already ${rt.state}`);
    this.transact(rt, actor, (tx) => {
      tx.event({ type: "terminate" });
      tx.machine({ type: "terminate" });
    });
  }

  // ---- instances ------------------------------------------------------------------------------------------

  instanceUp(rt: RunRuntime, instance: string): void {
    if (rt.terminal) return;
    const info = rt.snapshot.context.instances[instance];
    if (!info || info.cameUp || !info.live) return;
    this.transact(rt, `node:${instance}`, (tx) => {
      tx.event({ type: "instance", instance, status: "up" });
      if (tx.param(`${instance}:vmstate`)) tx.setParam(`${instance}:vmstate`, "Running");
      tx.machine({ type: "instance.up", instance });
    });
  }

  // ---- agent liveness (run-rules R19) ---------------------------------------------------------------------

  private setUnresponsiveSince(rt: RunRuntime, instance: string, since: number | null): void {
    this.db.$client
      .prepare("update instances set unresponsive_since = ? where run_id = ? and name = ?")
      .run(since, rt.id, instance);
  }

  /** When each instance went unresponsive (ms), for those that are. */
  unresponsiveSince(rt: RunRuntime): Map<string, number> {
    const rows = this.db.$client
      .prepare(
        "select name, unresponsive_since as since from instances where run_id = ? and unresponsive_since is not null",
      )
      .all(rt.id) as { name: string; since: number }[];
    return new Map(rows.map((r) => [r.name, r.since]));
  }

  /** The agent's connection dropped: recorded, and the time kept so the grace survives a restart. */
  instanceUnresponsive(rt: RunRuntime, instance: string, since: number, reason: string, graceSeconds: number): void {
    this.transact(rt, "server", (tx) => {
      this.setUnresponsiveSince(rt, instance, since);
      tx.event({
        type: "instance",
        instance,
        status: "unresponsive",
        detail: `agent disconnected (${reason}); lost if not back within ${graceSeconds} s`,
      });
    });
  }

  /** The agent connected again within the grace (or after a server restart). */
  instanceBack(rt: RunRuntime, instance: string, detail: string): void {
    this.transact(rt, "server", (tx) => {
      this.setUnresponsiveSince(rt, instance, null);
      tx.event({ type: "instance", instance, status: "back", detail });
    });
  }

  /**
   * The grace is over and the agent is still away (R19): the instance leaves the count and the run aborts with
   * "agent of <ni> lost", set on the instance too; the other instances carry on to send their reports.
   * Returns whether the machine took it (not once the run is finalizing or over, or for an instance that is gone).
   */
  instanceLost(rt: RunRuntime, instance: string, graceSeconds: number): boolean {
    if (rt.terminal) return false;
    const message = `agent of ${instance} lost`;
    let taken = false;
    this.transact(rt, "server", (tx) => {
      const first = tx.snapshot.context.abort === null;
      tx.event({
        type: "instance",
        instance,
        status: "lost",
        detail: `no answer from its agent for ${graceSeconds} s`,
      });
      if (!tx.machine({ type: "instance.lost", instance, message })) return;
      taken = true;
      tx.event({ type: "abort", message, instance, first });
      if (tx.param(`${instance}:abort`) && tx.param(`${instance}:abort`)?.value == null) {
        tx.setParam(`${instance}:abort`, message);
      }
    });
    rt.lost.add(instance);
    return taken;
  }

  complete(rt: RunRuntime, instance: string, state: RunSummary["state"]): void {
    this.transact(rt, `node:${instance}`, (tx) => {
      const event = { type: "instance.completed", instance, state } as const;
      if (!tx.snapshot.can(event)) {
        throw new SlipError("CONFLICT", `'${instance}' cannot complete ${state}: the run is ${tx.state}`);
      }
      // logged before the machine moves, so the log reads "completed" then the state change it caused
      tx.event({ type: "instance", instance, status: "completed", state });
      // SlipStream's flag: true once the instance completed the current state, false again at the next (run-tx.ts)
      if (tx.param(`${instance}:complete`)) tx.setParam(`${instance}:complete`, "true");
      const scaleState = tx.param(`${instance}:scale.state`)?.value;
      if (state === "Provisioning" && scaleState === "creating") tx.setParam(`${instance}:scale.state`, "created");
      if (state === "SendingReports" && scaleState === "created") tx.setParam(`${instance}:scale.state`, "operational");
      // the count of dropped log bytes is final for this state: say it now rather than at the next drop
      this.markLogDropped(tx, rt, instance);
      tx.machine(event);
    });
  }

  /**
   * Stores a log chunk within the instance's log budget (core/log-budget.ts): past half the limit, the oldest
   * tail chunks are deleted as new ones arrive, and a "log-dropped" event (at most one a second, replacing the
   * previous one) says how many bytes are missing and where. Watchers saw the dropped chunks live.
   */
  appendLog(
    rt: RunRuntime,
    instance: string,
    chunk: { chunk: number; target: string; stream: "stdout" | "stderr" | "agent"; data: string },
  ): number | null {
    const rec = rt.instances.get(instance);
    if (!rec) throw new SlipError("NOT_FOUND", `instance '${instance}' not found`);
    if (chunk.chunk <= rec.logChunk) return null; // already stored before a reconnect
    if (chunk.chunk > rec.logChunk + MAX_CHUNK_AHEAD) {
      throw new SlipError(
        "BAD_REQUEST",
        `chunk: ${chunk.chunk} is more than ${MAX_CHUNK_AHEAD} past the last stored chunk (${rec.logChunk})`,
      );
    }
    const limit = this.limits().logBytesPerInstance;
    const log = this.logBudget(rt, instance, limit);
    const bytes = Buffer.byteLength(chunk.data);
    try {
      return this.transact(rt, `node:${instance}`, (tx) => {
        tx.putInstance({ ...rec, logChunk: chunk.chunk });
        const seq = tx.event({ type: "log", instance, target: chunk.target, stream: chunk.stream, data: chunk.data });
        const drop = addLogChunk(log.budget, { seq, bytes }, limit);
        for (const d of drop) this.statements.deleteEvent.run(rt.id, d.seq);
        this.statements.updateInstanceLog.run({
          runId: rt.id,
          name: instance,
          kept: log.budget.headBytes + log.budget.tailBytes,
          dropped: log.budget.dropped,
        });
        if (drop.length > 0 && (log.marker === null || Date.now() - log.marker.at >= 1000)) {
          this.markLogDropped(tx, rt, instance);
        }
        return seq;
      });
    } catch (err) {
      // the budget was changed for a chunk that is not stored: reload it from what is
      rt.logBudgets.delete(instance);
      throw err;
    }
  }

  /** Writes the instance's "bytes dropped" marker if it is behind, replacing the previous one (one per instance). */
  private markLogDropped(tx: RunTx, rt: RunRuntime, instance: string): void {
    const log = rt.logBudgets.get(instance);
    if (!log || log.budget.dropped === (log.marker?.bytes ?? 0)) return;
    if (log.marker) this.statements.deleteEvent.run(rt.id, log.marker.seq);
    const bytes = log.budget.dropped;
    const seq = tx.event({ type: "log-dropped", instance, bytes, afterSeq: log.budget.headEndSeq });
    log.marker = { seq, at: Date.now(), bytes };
  }

  private logBudget(rt: RunRuntime, instance: string, limit: number) {
    let log = rt.logBudgets.get(instance);
    if (!log) {
      const actor = `node:${instance}`;
      const marker = this.db.$client
        .prepare(
          "select seq, body from events where run_id = ? and actor = ? and type = 'log-dropped' order by seq desc limit 1",
        )
        .get(rt.id, actor) as { seq: number; body: string } | undefined;
      const dropped = marker ? (JSON.parse(marker.body) as { bytes: number; afterSeq: number }) : null;
      const stored = this.db.$client
        .prepare(
          `select seq, length(cast(json_extract(body, '$.data') as blob)) as bytes from events
           where run_id = ? and actor = ? and type = 'log' order by seq`,
        )
        .all(rt.id, actor) as { seq: number; bytes: number }[];
      log = {
        budget: rebuildLogBudget(stored, dropped && { bytes: dropped.bytes, headEndSeq: dropped.afterSeq }, limit),
        marker: marker && dropped ? { seq: marker.seq, at: 0, bytes: dropped.bytes } : null,
      };
      rt.logBudgets.set(instance, log);
    }
    return log;
  }

  addReport(rt: RunRuntime, actor: string, name: string, instance: string | null, size: number): void {
    this.transact(rt, actor, (tx) => {
      this.db.$client
        .prepare("insert or replace into reports (run_id, name, instance, size) values (?, ?, ?, ?)")
        .run(rt.id, name, instance, size);
      tx.event({ type: "report", name, size, instance });
    });
  }

  recordEvent(rt: RunRuntime, actor: string, body: RunEventBody): void {
    this.transact(rt, actor, (tx) => tx.event(body));
  }

  // ---- views ----------------------------------------------------------------------------------------------

  summary(rt: RunRuntime): RunSummary {
    return {
      id: rt.id,
      module: rt.spec.module,
      owner: rt.owner,
      state: rt.state,
      abort: rt.abort,
      recoveryMode: rt.recoveryMode,
      keepRunning: rt.keepRunning,
      scalable: rt.scalable,
      tags: rt.tags,
      createdAt: rt.createdAt,
      updatedAt: rt.updatedAt,
      lastSeq: rt.lastSeq,
    };
  }

  detail(rt: RunRuntime): RunDetail {
    const ctx = rt.snapshot.context.instances;
    const rows = this.db.$client
      .prepare("select name, log_dropped, unresponsive_since from instances where run_id = ?")
      .all(rt.id) as { name: string; log_dropped: number; unresponsive_since: number | null }[];
    const dropped = new Map(rows.map((r) => [r.name, r.log_dropped]));
    const since = new Map(rows.map((r) => [r.name, r.unresponsive_since]));
    const liveness = (i: InstanceRecord): InstanceSummary["liveness"] => {
      const info = ctx[i.name];
      if (rt.lost.has(i.name) && !info?.live) return "lost";
      if (rt.terminal || !info?.live || i.status === "stopping" || i.status === "stopped" || i.status === "failed") {
        return "ended";
      }
      if (this.agentConnected(rt.id, i.name)) return "connected";
      // after a restart every agent that had come up is away until it reconnects (R19)
      return since.get(i.name) != null || info.cameUp ? "unresponsive" : "waiting";
    };
    const instances: InstanceSummary[] = [...rt.instances.values()].map((i) => ({
      name: i.name,
      node: i.node,
      index: i.idx,
      cloud: i.cloud,
      live: ctx[i.name]?.live ?? false,
      cameUp: ctx[i.name]?.cameUp ?? false,
      completed: ctx[i.name]?.completed ?? false,
      workspace: i.workspace,
      login: i.login,
      logDropped: dropped.get(i.name) ?? 0,
      liveness: liveness(i),
      unresponsiveSince: (() => {
        const ms = since.get(i.name);
        return ms == null ? null : new Date(ms).toISOString();
      })(),
    }));
    return {
      ...this.summary(rt),
      instances,
      nodes: rt.spec.nodes.map((n) => ({
        name: n.name,
        image: n.imagePath,
        multiplicity: rt.liveInstances(n.name).length,
        cloud: n.cloud,
      })),
      deadline: rt.deadlineAt,
      timeoutMinutes: rt.spec.timeoutMinutes,
      sshKeys: (rt.spec.sshKeys ?? []).map(sshKeyFingerprint),
    };
  }
}
