import type { Logger } from "pino";
import type { RunMachineEvent } from "../../core/run-machine.js";
import type { Limits } from "../../protocol/limits.js";
import type { RunDetail, RunEventBody, RunState, RunSummary } from "../../protocol/run.js";
import type { Bus } from "../bus.js";
import type { Db } from "../db/open.js";
import { RunCommands } from "./run-commands.js";
import { type AnswerSlot, type EffectRunner, RunCommit } from "./run-commit.js";
import { RunInstances } from "./run-instances.js";
import { RunLogs } from "./run-logs.js";
import { type GetOptions, RunParams } from "./run-params.js";
import { RunRegistry } from "./run-registry.js";
import type { RunTx } from "./run-tx.js";
import { RunViews } from "./run-views.js";
import type { RunRuntime } from "./runtime.js";
import type { WaitOwner } from "./waiters.js";

export type { AnswerSlot, EffectRunner } from "./run-commit.js";
export { MAX_CHUNK_AHEAD } from "./run-logs.js";
export type { GetOptions } from "./run-params.js";

/**
 * The run service: one façade over the parts, each one concern, so callers keep one object to talk to.
 *
 * | part | file | does |
 * |---|---|---|
 * | registry | run-registry.ts | runs in memory: load, keep, evict; active run ids |
 * | commit | run-commit.ts (+ run-group-commit.ts) | `transact`: one SQLite transaction, then memory, waiters, bus, effects; stored answers; storage full |
 * | commands | run-commands.ts (+ scale.ts) | abort, reset abort, terminate: core's `commandAnswer`, then the machine's answer |
 * | instances | run-instances.ts | up, completed, failed (R8b), unresponsive / back / lost (R19) |
 * | params | run-params.ts | ss-get / ss-set and the people's parameter writes |
 * | logs | run-logs.ts | instance logs within their budget, reports, plain events |
 * | views | run-views.ts | summary and detail (with `allowed`) |
 */
export class RunService {
  readonly registry: RunRegistry;
  readonly commit: RunCommit;
  readonly commands: RunCommands;
  readonly instances: RunInstances;
  readonly params: RunParams;
  readonly logs: RunLogs;
  readonly views: RunViews;

  constructor(
    readonly db: Db,
    readonly bus: Bus,
    readonly log: Logger,
  ) {
    this.registry = new RunRegistry(db, log);
    this.commit = new RunCommit(db, bus, log, this.registry);
    this.commands = new RunCommands(this.commit);
    this.logs = new RunLogs(this.commit);
    this.instances = new RunInstances(this.commit, this.logs);
    this.params = new RunParams(db, this.commit, log, (rt, message, actor, instance) =>
      this.commands.abort(rt, message, actor, instance),
    );
    this.views = new RunViews(db);
  }

  // ---- wiring (app.ts) ----------------------------------------------------------------------------------------

  get effects(): EffectRunner {
    return this.commit.effects;
  }
  set effects(run: EffectRunner) {
    this.commit.effects = run;
  }

  /** the limits in force (an admin changes them at run time; app.ts reads them from the settings) */
  get limits(): () => Limits {
    return this.commit.limits;
  }
  set limits(read: () => Limits) {
    this.commit.limits = read;
  }

  /** whether an instance's agent has a connection now (the agent namespace knows; app.ts wires it) */
  get agentConnected(): (runId: string, instance: string) => boolean {
    return this.views.agentConnected;
  }
  set agentConnected(isConnected: (runId: string, instance: string) => boolean) {
    this.views.agentConnected = isConnected;
  }

  // ---- registry -------------------------------------------------------------------------------------------------

  get(runId: string): RunRuntime {
    return this.registry.get(runId);
  }
  tryGet(runId: string): RunRuntime | null {
    return this.registry.tryGet(runId);
  }
  peek(runId: string): RunRuntime | undefined {
    return this.registry.peek(runId);
  }
  forget(runId: string): void {
    this.registry.forget(runId);
  }
  adopt(rt: RunRuntime): void {
    this.registry.adopt(rt);
  }
  activeRunIds(): string[] {
    return this.registry.activeRunIds();
  }

  // ---- commit ---------------------------------------------------------------------------------------------------

  transact<T>(rt: RunRuntime, actor: string, fn: (tx: RunTx) => T): T {
    return this.commit.transact(rt, actor, fn);
  }
  send(rt: RunRuntime, actor: string, event: RunMachineEvent, extra?: (tx: RunTx) => void): void {
    this.commit.send(rt, actor, event, extra);
  }
  withAnswer<T>(slot: AnswerSlot | null, answer: (tx: RunTx) => unknown, fn: () => T): T {
    return this.commit.withAnswer(slot, answer, fn);
  }
  storedAnswer(runId: string, slot: AnswerSlot): { answer: unknown } | null {
    return this.commit.storedAnswer(runId, slot);
  }
  storageFailed(rt: RunRuntime, err: unknown): void {
    this.commit.storageFailed(rt, err);
  }

  // ---- commands -------------------------------------------------------------------------------------------------

  abort(rt: RunRuntime, message: string, actor: string, instance: string | null = null): void {
    this.commands.abort(rt, message, actor, instance);
  }
  resetAbort(rt: RunRuntime, actor: string): void {
    this.commands.resetAbort(rt, actor);
  }
  terminate(rt: RunRuntime, actor: string): void {
    this.commands.terminate(rt, actor);
  }

  // ---- instances ------------------------------------------------------------------------------------------------

  instanceUp(rt: RunRuntime, instance: string): void {
    this.instances.instanceUp(rt, instance);
  }
  complete(rt: RunRuntime, instance: string, state: RunState): void {
    this.instances.complete(rt, instance, state);
  }
  instanceFailed(rt: RunRuntime, instance: string, message: string): void {
    this.instances.instanceFailed(rt, instance, message);
  }
  unresponsiveSinceOf(rt: RunRuntime, instance: string): number | undefined {
    return this.instances.unresponsiveSinceOf(rt, instance);
  }
  unresponsiveSince(rt: RunRuntime): Map<string, number> {
    return this.instances.unresponsiveSince(rt);
  }
  instanceUnresponsive(rt: RunRuntime, instance: string, since: number, reason: string, graceSeconds: number): void {
    this.instances.instanceUnresponsive(rt, instance, since, reason, graceSeconds);
  }
  instanceBack(rt: RunRuntime, instance: string, detail: string): void {
    this.instances.instanceBack(rt, instance, detail);
  }
  instanceLost(rt: RunRuntime, instance: string, graceSeconds: number, detail?: string): boolean {
    return this.instances.instanceLost(rt, instance, graceSeconds, detail);
  }

  // ---- parameters -----------------------------------------------------------------------------------------------

  requireKey(rt: RunRuntime, key: string, actor: string, abortOnUnknown: boolean): void {
    this.params.requireKey(rt, key, actor, abortOnUnknown);
  }
  getParam(rt: RunRuntime, key: string, opts: GetOptions, actor: string, abortOnUnknown = true): Promise<string> {
    return this.params.getParam(rt, key, opts, actor, abortOnUnknown);
  }
  setParam(
    rt: RunRuntime,
    key: string,
    value: string,
    opts: { ignoreAbort: boolean },
    actor: string,
    abortOnUnknown = true,
  ): number | null {
    return this.params.setParam(rt, key, value, opts, actor, abortOnUnknown);
  }
  setParamGrouped(
    rt: RunRuntime,
    key: string,
    value: string,
    opts: { ignoreAbort: boolean },
    actor: string,
    slot: AnswerSlot | null = null,
  ): Promise<number | null> {
    return this.params.setParamGrouped(rt, key, value, opts, actor, slot);
  }
  getAll(rt: RunRuntime, node: string, name: string, timeout: number, actor: string, owner?: WaitOwner) {
    return this.params.getAll(rt, node, name, timeout, actor, owner);
  }

  // ---- logs, reports, events ------------------------------------------------------------------------------------

  appendLog(
    rt: RunRuntime,
    instance: string,
    chunk: { chunk: number; target: string; stream: "stdout" | "stderr" | "agent"; data: string },
  ): number | null {
    return this.logs.appendLog(rt, instance, chunk);
  }
  addReport(rt: RunRuntime, actor: string, name: string, instance: string | null, size: number): void {
    this.logs.addReport(rt, actor, name, instance, size);
  }
  recordEvent(rt: RunRuntime, actor: string, body: RunEventBody): void {
    this.logs.recordEvent(rt, actor, body);
  }

  // ---- views ----------------------------------------------------------------------------------------------------

  summary(rt: RunRuntime): RunSummary {
    return this.views.summary(rt);
  }
  detail(rt: RunRuntime): RunDetail {
    return this.views.detail(rt);
  }
}
