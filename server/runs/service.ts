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
import { sshKeyFingerprint } from "./create.js";
import { loadRun } from "./load.js";
import { checkEventBudget, checkValueSize } from "./quota.js";
import { RunStatements, RunTx } from "./run-tx.js";
import type { ParamEntry, RunRuntime } from "./runtime.js";
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

  transact<T>(rt: RunRuntime, actor: string, fn: (tx: RunTx) => T): T {
    const tx = new RunTx(rt, actor, this.statements);
    const before = { state: rt.state, abort: rt.abort, recovery: rt.recoveryMode, ctx: rt.snapshot.context };
    const result = this.db.$client.transaction(() => {
      const value = fn(tx);
      if (tx.events.length > 0 || tx.snapshot !== rt.snapshot) tx.flush();
      return value;
    })();
    tx.commitTo(rt);
    this.afterCommit(rt, tx, before);
    return result;
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
  ): Promise<number | null> {
    this.checkSet(rt, key, value, opts, actor, true);
    return new Promise((resolve, reject) => {
      if (this.pendingSets.push({ rt, key, value, opts, actor, resolve, reject }) === 1) {
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
      this.log.error({ err }, "group commit of parameter writes failed");
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
    const dropped = new Map(
      (
        this.db.$client.prepare("select name, log_dropped from instances where run_id = ?").all(rt.id) as {
          name: string;
          log_dropped: number;
        }[]
      ).map((r) => [r.name, r.log_dropped]),
    );
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
