import type Database from "better-sqlite3";
import type { DeclaredParam } from "../../core/params.js";
import {
  applyRunEvent,
  type RunEffect,
  type RunMachineEvent,
  type RunSnapshot,
  runStateOf,
} from "../../core/run-machine.js";
import { SlipError } from "../../protocol/errors.js";
import type { RunEvent, RunEventBody, RunState } from "../../protocol/run.js";
import type { EventRow } from "../db/write-journal.js";
import { keptUntilFrom } from "./kept-until.js";
import { MachineInstanceStatements, storedSnapshot } from "./machine-instances.js";
import type { InstanceRecord, ParamEntry, RunRuntime } from "./runtime.js";

/** Prepared statements shared by every run transaction (the hot path of parameter writes). */
export class RunStatements {
  readonly insertEvent;
  readonly upsertParam;
  readonly updateRun;
  readonly upsertInstance;
  readonly deleteEvent;
  readonly updateInstanceLog;
  readonly getAnswer;
  readonly putAnswer;
  readonly deleteAnswers;
  readonly setKeptUntil;
  readonly machineInstances;
  constructor(readonly sqlite: Database.Database) {
    this.machineInstances = new MachineInstanceStatements(sqlite);
    // positional: binding by name looks each one up in an object, ~1 µs of the hot path per event
    this.insertEvent = sqlite.prepare(
      "insert into events (run_id, seq, at, actor, type, body) values (?, ?, ?, ?, ?, ?)",
    );
    this.upsertParam = sqlite.prepare(
      `insert into params (run_id, key, value, category, description, updated_seq)
       values (@runId, @key, @value, @category, @description, @seq)
       on conflict (run_id, key) do update set value = excluded.value, updated_seq = excluded.updated_seq`,
    );
    this.updateRun = sqlite.prepare(
      `update runs set state = @state, snapshot = @snapshot, abort = @abort, recovery_mode = @recoveryMode,
       last_seq = @lastSeq, updated_at = @at where id = @id`,
    );
    this.upsertInstance = sqlite.prepare(
      `insert into instances (run_id, name, node, idx, cloud, token_hash, machine_id, workspace, login, status, log_chunk)
       values (@runId, @name, @node, @idx, @cloud, @tokenHash, @machineId, @workspace, @login, @status, @logChunk)
       on conflict (run_id, name) do update set token_hash = excluded.token_hash, machine_id = excluded.machine_id, workspace = excluded.workspace, login = excluded.login,
       status = excluded.status, log_chunk = excluded.log_chunk`,
    );
    this.deleteEvent = sqlite.prepare("delete from events where run_id = ? and seq = ?");
    this.updateInstanceLog = sqlite.prepare(
      "update instances set log_bytes = @kept, log_dropped = @dropped where run_id = @runId and name = @name",
    );
    this.getAnswer = sqlite.prepare(
      "select answer from request_answers where run_id = ? and instance = ? and request = ?",
    );
    this.putAnswer = sqlite.prepare(
      "insert or replace into request_answers (run_id, instance, request, answer) values (?, ?, ?, ?)",
    );
    this.deleteAnswers = sqlite.prepare("delete from request_answers where run_id = ?");
    this.setKeptUntil = sqlite.prepare("update runs set kept_until = ? where id = ?");
  }
}

/**
 * One atomic change to a run. Everything is written to SQLite inside the transaction as it is produced;
 * the in-memory runtime is updated only after commit (RunTx.commitTo), so a failed write changes nothing.
 * Reads go through the overlay so a transaction sees its own writes (e.g. a mapping fan-out).
 */
export class RunTx {
  readonly events: RunEvent[] = [];
  readonly actions: string[] = [];
  readonly effects: RunEffect[] = [];
  readonly params = new Map<string, ParamEntry>();
  readonly instances = new Map<string, InstanceRecord>();
  snapshot: RunSnapshot;
  lastSeq: number;
  readonly at = new Date().toISOString();
  private forceSnapshot = false;

  constructor(
    readonly rt: RunRuntime,
    readonly actor: string,
    private readonly st: RunStatements,
    /** where its events go instead of SQLite: a journaled turn's rows (run-group-commit.ts), stored after it */
    private readonly journaled?: EventRow[],
  ) {
    this.snapshot = rt.snapshot;
    this.lastSeq = rt.lastSeq;
  }

  event(body: RunEventBody, actor = this.actor): number {
    const seq = ++this.lastSeq;
    const row: EventRow = [this.rt.id, seq, this.at, actor, body.type, JSON.stringify(body)];
    if (this.journaled) this.journaled.push(row);
    else this.st.insertEvent.run(...row);
    this.events.push({ runId: this.rt.id, seq, at: this.at, actor, body });
    return seq;
  }

  param(key: string): ParamEntry | undefined {
    return this.params.get(key) ?? this.rt.params.get(key);
  }

  instance(name: string): InstanceRecord | undefined {
    return this.instances.get(name) ?? this.rt.instances.get(name);
  }

  /** Sets a declared parameter and pushes it along mappings. Returns the event seq, or null if unchanged. */
  setParam(key: string, value: string | null): number | null {
    const current = this.param(key);
    if (!current) throw new SlipError("UNKNOWN_KEY", `unknown key '${key}'`);
    if (current.value === value) return null;
    // its event is its stored value (stored-params.ts): the parameter's row stays as it was declared
    const seq = this.event({ type: "param", key, value });
    this.params.set(key, { ...current, value, seq });
    for (const consumer of this.rt.consumers.get(key) ?? []) {
      for (const inst of this.liveInstances(consumer.node)) this.setParam(`${inst}:${consumer.name}`, value);
    }
    return seq;
  }

  /** Declares new parameters (run creation, scaling); those with a value get an event. */
  declare(list: DeclaredParam[]): void {
    this.onlyValues();
    for (const p of list) {
      const seq = p.value === null ? 0 : this.event({ type: "param", key: p.key, value: p.value });
      const entry: ParamEntry = { value: p.value, category: p.category, description: p.description, seq };
      this.params.set(p.key, entry);
      this.st.upsertParam.run({
        runId: this.rt.id,
        key: p.key,
        value: p.value,
        category: p.category,
        description: p.description,
        seq,
      });
    }
  }

  putInstance(rec: InstanceRecord): void {
    this.onlyValues();
    this.instances.set(rec.name, rec);
    this.st.upsertInstance.run({ runId: this.rt.id, ...rec });
  }

  liveInstances(node: string): string[] {
    return [...this.snapshot.context.instances].filter(([, i]) => i.node === node && i.live).map(([name]) => name);
  }

  get state(): RunState {
    return runStateOf(this.snapshot);
  }

  /**
   * Feeds the run machine. Returns false when the event is not handled in the current state (the caller
   * answers a conflict). State changes, abort and recovery-mode flags become events and built-in params.
   */
  machine(event: RunMachineEvent): boolean {
    this.onlyValues();
    const before = this.snapshot;
    const result = applyRunEvent(before, event);
    if (!result.handled) return false;
    this.snapshot = result.snapshot;
    this.actions.push(...result.actions);
    this.effects.push(...result.effects);
    const from = runStateOf(before);
    if (from !== runStateOf(result.snapshot)) {
      // An event can pass through several states at once (an empty barrier); log every one of them.
      let prev: RunState = from;
      for (const effect of result.effects) {
        if (effect.type !== "notifyState" || effect.params.state === prev) continue;
        this.event({ type: "state", from: prev, to: effect.params.state }, "server");
        prev = effect.params.state;
      }
      this.setParam("ss:state", runStateOf(result.snapshot));
      // a new state: no instance has completed it yet
      for (const [name, info] of result.snapshot.context.instances) {
        if (info.live && this.param(`${name}:complete`)?.value === "true") this.setParam(`${name}:complete`, "false");
      }
      if (runStateOf(result.snapshot) === "Ready") {
        // the scale cycle that removed them is over
        for (const name of this.rt.instances.keys()) {
          if (this.param(`${name}:scale.state`)?.value === "removed") this.setParam(`${name}:scale.state`, "gone");
        }
      }
    }
    const [a, b] = [before.context, result.snapshot.context];
    // the Ready decision kept the machines up (R12): said once, so followers know the run will wait here
    if (!a.kept && b.kept) {
      // its expiry is written with the decision, so a restart right after it still terminates the run in time
      const until = keptUntilFrom(this.rt.spec, this.at);
      this.st.setKeptUntil.run(until, this.rt.id);
      this.event({ type: "kept", keepRunning: b.keepRunning, aborted: b.abort !== null, until }, "server");
    }
    if (a.abort !== b.abort) this.setParam("ss:abort", b.abort);
    if (a.recoveryMode !== b.recoveryMode) {
      this.event({ type: "recovery-mode", on: b.recoveryMode }, "server");
      this.setParam("ss:recovery.mode", String(b.recoveryMode));
    }
    return true;
  }

  /** Marks the snapshot to be written even though it did not change (a new run's first write). */
  flushAll(): void {
    this.forceSnapshot = true;
  }

  /** Writes the run row if the machine moved; called last inside the transaction. */
  flushIfChanged(): void {
    if (this.snapshot !== this.rt.snapshot || this.forceSnapshot) this.flush();
  }

  /**
   * Writes the run row when the machine moved (or a new run's first write); called last inside the transaction. The
   * common case, a parameter write, leaves it alone: its seq and time are those of its newest event (stored-seq.ts).
   */
  flush(): void {
    if (this.snapshot === this.rt.snapshot && !this.forceSnapshot) return;
    this.onlyValues();
    this.st.updateRun.run({
      id: this.rt.id,
      state: this.state,
      snapshot: storedSnapshot(this.snapshot),
      abort: this.snapshot.context.abort,
      recoveryMode: this.snapshot.context.recoveryMode ? 1 : 0,
      lastSeq: this.lastSeq,
      at: this.at,
    });
    // the runtime's snapshot is what is stored (a transaction changes it only once committed); a new run has no rows
    const stored = this.forceSnapshot ? null : this.rt.snapshot.context.instances;
    this.st.machineInstances.write(this.rt.id, stored, this.snapshot.context.instances);
  }

  /** A journaled transaction sets values and nothing else: its other rows would go to SQLite before its events. */
  private onlyValues(): void {
    if (this.journaled) throw new Error("a journaled transaction only sets values");
  }

  /** After commit: make the runtime match the database. */
  commitTo(rt: RunRuntime): void {
    rt.snapshot = this.snapshot;
    rt.lastSeq = this.lastSeq;
    rt.updatedAt = this.at;
    for (const [k, v] of this.params) rt.params.set(k, v);
    for (const [k, v] of this.instances) rt.instances.set(k, v);
    for (const e of this.events) if (COUNTED.has(e.body.type)) rt.counted++;
  }
}

/** The events a run's `eventsPerRun` limit counts: what recipes and people can write in a loop. */
const COUNTED = new Set(["param", "abort"]);
