import type { MachineStatus } from "../../core/instance-status.js";
import type { LogBudgetState } from "../../core/log-budget.js";
import { mappingConsumers } from "../../core/params.js";
import { type RunSnapshot, runStateOf } from "../../core/run-machine.js";
import type { RunSpec } from "../../core/run-spec.js";
import { isTerminal } from "../../core/run-states.js";
import type { KeepRunning, ParamCategory, RunState } from "../../protocol/run.js";
import { Waiters } from "./waiters.js";

export interface ParamEntry {
  value: string | null;
  category: ParamCategory;
  description: string;
  seq: number;
}

export interface InstanceRecord {
  name: string;
  node: string;
  idx: number;
  cloud: string;
  tokenHash: string;
  machineId: string | null;
  workspace: string | null;
  login: string | null;
  /** what the server did with its machine (run-rules I1, core/instance-status.ts) */
  status: MachineStatus;
  logChunk: number;
}

/**
 * The live, in-memory image of one run. It is authoritative only because every change reaches it after
 * the transaction that persisted the change committed (see run-tx.ts), so it can be rebuilt from the
 * database at any moment (boot, eviction).
 */
export class RunRuntime {
  readonly waiters = new Waiters();
  readonly consumers: Map<string, { node: string; name: string }[]>;
  /** Ends of the current state's work the server itself does (finalize, start machines), to do them once. */
  readonly inFlight = new Set<string>();
  /** parameter changes and abort messages recorded so far (the `eventsPerRun` limit counts them) */
  counted = 0;
  /**
   * instances with answers stored before this runtime was made (by a server since killed): read once at load. Their
   * requests are looked up in request_answers, where an instance not among them (a new run's) has none to find
   * (server/sockets/agent.ts, Answers)
   */
  readonly answeredBefore = new Set<string>();
  /** instances whose agent was declared lost (R19): read once at load, then kept as it happens */
  readonly lost = new Set<string>();
  /** each instance's log budget and its latest "bytes dropped" marker, loaded on the instance's first chunk */
  readonly logBudgets = new Map<
    string,
    { budget: LogBudgetState; marker: { seq: number; at: number; bytes: number } | null }
  >();

  constructor(
    readonly id: string,
    readonly spec: RunSpec,
    readonly ownerId: number,
    readonly owner: string,
    readonly keepRunning: KeepRunning,
    readonly scalable: boolean,
    readonly tags: string[],
    public snapshot: RunSnapshot,
    public lastSeq: number,
    readonly params: Map<string, ParamEntry>,
    readonly instances: Map<string, InstanceRecord>,
    readonly createdAt: string,
    public updatedAt: string,
    /** renewed by a scale cycle */
    public deadlineAt: string | null,
  ) {
    this.consumers = mappingConsumers(spec);
  }

  get state(): RunState {
    return runStateOf(this.snapshot);
  }

  get abort(): string | null {
    return this.snapshot.context.abort;
  }

  get recoveryMode(): boolean {
    return this.snapshot.context.recoveryMode;
  }

  get terminal(): boolean {
    return isTerminal(this.state);
  }

  liveInstances(node?: string): InstanceRecord[] {
    const ctx = this.snapshot.context.instances;
    return [...this.instances.values()].filter((i) => ctx.get(i.name)?.live && (node === undefined || i.node === node));
  }
}
