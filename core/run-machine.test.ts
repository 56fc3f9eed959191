import { describe, expect, it } from "vitest";
import type { KeepRunning, RunState } from "../protocol/run.js";
import {
  applyRunEvent,
  countedInstances,
  createRun,
  type RunInput,
  type RunMachineEvent,
  type RunSnapshot,
  runMachine,
  runStateOf,
} from "./run-machine.js";
import { persistRun, restoreRun } from "./run-persistence.js";
import { ACTIVE_STATES } from "./run-states.js";

// 2 nodes, 3 instances
const INSTANCES = [
  { name: "apache.1", node: "apache" },
  { name: "client.1", node: "client" },
  { name: "client.2", node: "client" },
];
const ALL = INSTANCES.map((i) => i.name);
const NON_TERMINAL = ACTIVE_STATES;

function start(opts: Partial<RunInput> = {}): RunSnapshot {
  return createRun({ instances: INSTANCES, keepRunning: "on-success", scalable: false, ...opts }).snapshot;
}

const up = (instance: string): RunMachineEvent => ({ type: "instance.up", instance });
const done = (instance: string, state: RunState): RunMachineEvent => ({ type: "instance.completed", instance, state });
const abort = (message: string, instance: string | null = null): RunMachineEvent => ({
  type: "abort",
  message,
  instance,
});

/** Applies events that must all be handled; returns the last snapshot. */
function send(s: RunSnapshot, ...events: RunMachineEvent[]): RunSnapshot {
  let cur = s;
  for (const e of events) {
    const r = applyRunEvent(cur, e);
    expect(r.handled, `${e.type} in ${runStateOf(cur)} should be handled`).toBe(true);
    cur = r.snapshot;
  }
  return cur;
}

/** Every given instance completes the current state. */
function completeAll(s: RunSnapshot, names: string[] = ALL): RunSnapshot {
  const state = runStateOf(s);
  return send(s, ...names.map((n) => done(n, state)));
}

/** From a fresh run, goes until the run reaches `target` (instances complete every barrier state). */
function runTo(target: RunState, opts: Partial<RunInput> = {}): RunSnapshot {
  let s = start(opts);
  if (target === "Initializing") return s;
  s = send(s, { type: "initialized" });
  const order: RunState[] = ["Provisioning", "Executing", "SendingReports", "Ready"];
  for (const st of order) {
    if (runStateOf(s) === target) return s;
    expect(runStateOf(s)).toBe(st);
    s = completeAll(s);
  }
  expect(runStateOf(s)).toBe(target);
  return s;
}

/** A run in `state`, reached without any abort (Finalizing through terminate from Ready). */
function runIn(state: RunState, opts: Partial<RunInput> = {}): RunSnapshot {
  if (state === "Finalizing") return send(runTo("Ready", { keepRunning: "always", ...opts }), { type: "terminate" });
  if (state === "Ready") return runTo("Ready", { keepRunning: "always", ...opts });
  return runTo(state, opts);
}

function notHandled(s: RunSnapshot, e: RunMachineEvent) {
  const r = applyRunEvent(s, e);
  expect(r.handled).toBe(false);
  expect(r.snapshot).toBe(s);
  expect(r.actions).toEqual([]);
  expect(s.can(e)).toBe(false);
}

describe("run machine", () => {
  it("R1 states: happy path Initializing → Provisioning → Executing → SendingReports → Ready → Finalizing → Done (2 nodes, 3 instances)", () => {
    const seen: RunState[] = [];
    let s = start({ keepRunning: "never" });
    seen.push(runStateOf(s));
    expect(s.context.instances.toRecord()).toEqual({
      "apache.1": { node: "apache", live: true, cameUp: false, completed: false },
      "client.1": { node: "client", live: true, cameUp: false, completed: false },
      "client.2": { node: "client", live: true, cameUp: false, completed: false },
    });
    s = send(s, { type: "initialized" });
    seen.push(runStateOf(s));
    s = send(s, ...ALL.map(up));
    for (let i = 0; i < 4; i++) {
      s = completeAll(s);
      seen.push(runStateOf(s));
    }
    s = send(s, { type: "finalized" });
    seen.push(runStateOf(s));
    expect(seen).toEqual([
      "Initializing",
      "Provisioning",
      "Executing",
      "SendingReports",
      "Ready",
      "Finalizing",
      "Done",
    ]);
    expect(s.status).toBe("done");
    expect(s.context.abort).toBeNull();
  });

  it("R1 states: `initialized` is handled only in Initializing", () => {
    for (const st of NON_TERMINAL.filter((x) => x !== "Initializing")) notHandled(runIn(st), { type: "initialized" });
  });

  it("R1 states: state node names are exactly the RunState strings", () => {
    expect(Object.keys(runMachine.states).sort()).toEqual(
      [
        "Initializing",
        "Provisioning",
        "Executing",
        "SendingReports",
        "Ready",
        "Finalizing",
        "Done",
        "Aborted",
        "Cancelled",
      ].sort(),
    );
    for (const st of ["Done", "Aborted", "Cancelled"]) expect(runMachine.states[st].type).toBe("final");
  });

  it("R2 instance up: sets cameUp in every non-terminal state", () => {
    for (const st of NON_TERMINAL) {
      const s = runIn(st);
      const fresh = { ...s.context.instances.get("client.2")! };
      const r = applyRunEvent(s, up("client.2"));
      expect(r.handled, st).toBe(true);
      expect(r.snapshot.context.instances.get("client.2")!).toEqual({ ...fresh, cameUp: true });
      expect(runStateOf(r.snapshot)).toBe(st);
    }
  });

  it("R2 instance up: unknown or removed instance is not handled", () => {
    const s = runIn("Provisioning");
    notHandled(s, up("nope.1"));
    notHandled(s, up("toString"));
    const ready = runTo("Ready", { scalable: true });
    const scaled = send(ready, { type: "scale", node: "client", add: [], remove: ["client.2"] });
    notHandled(scaled, up("client.2"));
  });

  it("R3 completion: sets completed and cameUp for the current state", () => {
    const s = send(runIn("Provisioning"), done("client.1", "Provisioning"));
    expect(s.context.instances.get("client.1")!).toEqual({ node: "client", live: true, cameUp: true, completed: true });
    expect(runStateOf(s)).toBe("Provisioning");
  });

  it("R3 completion: stale completion (wrong state, unknown instance, completed twice) is not handled", () => {
    const s = send(runIn("Executing"), done("apache.1", "Executing"));
    notHandled(s, done("client.1", "Provisioning"));
    notHandled(s, done("client.1", "SendingReports"));
    notHandled(s, done("nope.3", "Executing"));
    notHandled(s, done("apache.1", "Executing"));
    // completions of the server's own states are never accepted
    notHandled(runIn("Initializing"), done("apache.1", "Initializing"));
    notHandled(runIn("Finalizing"), done("apache.1", "Finalizing"));
  });

  it("R3 completion: a removed instance cannot complete", () => {
    let s = runTo("Ready", { scalable: true });
    s = send(s, { type: "scale", node: "client", add: [], remove: ["client.1"] });
    notHandled(s, done("client.1", "Provisioning"));
  });

  it("R4 barrier: advances only when every live instance completed", () => {
    for (const st of ["Provisioning", "Executing", "SendingReports"] as RunState[]) {
      let s = runIn(st);
      s = send(s, done("apache.1", st), done("client.1", st));
      expect(runStateOf(s)).toBe(st);
      s = send(s, done("client.2", st));
      expect(runStateOf(s)).not.toBe(st);
    }
    // Ready waits too before deciding
    let s = runTo("Ready", { keepRunning: "never" });
    s = send(s, done("apache.1", "Ready"), done("client.2", "Ready"));
    expect(runStateOf(s)).toBe("Ready");
    s = send(s, done("client.1", "Ready"));
    expect(runStateOf(s)).toBe("Finalizing");
  });

  it("R4 barrier: order is Provisioning → Executing → SendingReports → Ready", () => {
    let s = runIn("Provisioning");
    const order: RunState[] = [];
    for (let i = 0; i < 3; i++) {
      s = completeAll(s);
      order.push(runStateOf(s));
    }
    expect(order).toEqual(["Executing", "SendingReports", "Ready"]);
  });

  it("R5 counted instances: live ones, and only those that came up in recovery mode", () => {
    let s = runIn("Provisioning");
    expect(countedInstances(s.context)).toEqual(ALL);
    s = send(s, up("client.1"), abort("boom"));
    expect(s.context.recoveryMode).toBe(true);
    expect(countedInstances(s.context)).toEqual(["client.1"]);
  });

  it("R5 counted instances: zero counted instances meet the barrier at once (a run with no instances falls through)", () => {
    const r = createRun({ instances: [], keepRunning: "never", scalable: false });
    const step = applyRunEvent(r.snapshot, { type: "initialized" });
    expect(runStateOf(step.snapshot)).toBe("Finalizing");
    expect(step.actions).toEqual([
      "notifyState",
      "notifyState",
      "notifyState",
      "notifyState",
      "notifyState",
      "stopMachines",
    ]);
    expect(step.effects.filter((e) => e.type === "notifyState").map((e) => e.params?.state)).toEqual([
      "Provisioning",
      "Executing",
      "SendingReports",
      "Ready",
      "Finalizing",
    ]);
    expect(runStateOf(send(step.snapshot, { type: "finalized" }))).toBe("Done");
  });

  it("R6 completion reset: flags are cleared on entry of each barrier state", () => {
    let s = runIn("Provisioning");
    s = completeAll(s);
    expect(runStateOf(s)).toBe("Executing");
    for (const n of ALL) expect(s.context.instances.get(n)!.completed).toBe(false);
    // a completion of the previous state is now stale, of the new one fresh
    notHandled(s, done("apache.1", "Provisioning"));
    s = send(s, done("apache.1", "Executing"));
    expect(s.context.instances.get("apache.1")!.completed).toBe(true);
  });

  it("R7 abort: handled in every non-terminal state, first message wins, state unchanged", () => {
    for (const st of NON_TERMINAL) {
      const s = send(runIn(st), up("apache.1")); // someone came up, so recovery mode does not empty the barrier
      const a = applyRunEvent(s, abort("first", "client.1"));
      expect(a.handled, st).toBe(true);
      expect(runStateOf(a.snapshot)).toBe(st);
      expect(a.snapshot.context.abort).toBe("first");
      const b = applyRunEvent(a.snapshot, abort("second"));
      expect(b.handled, st).toBe(true);
      expect(b.snapshot.context.abort).toBe("first");
      expect(runStateOf(b.snapshot)).toBe(st);
    }
  });

  it("R7 abort: the run still drains through SendingReports and ends Aborted", () => {
    let s = runIn("Executing");
    s = send(s, done("apache.1", "Executing"), abort("Failed running 'execute' on 'client.1': boom", "client.1"));
    s = send(s, done("client.1", "Executing"), done("client.2", "Executing"));
    expect(runStateOf(s)).toBe("SendingReports");
    s = completeAll(s);
    expect(runStateOf(s)).toBe("Ready");
    s = completeAll(s);
    expect(runStateOf(s)).toBe("Finalizing"); // on-success + abort
    s = send(s, { type: "finalized" });
    expect(runStateOf(s)).toBe("Aborted");
    expect(s.context.abort).toBe("Failed running 'execute' on 'client.1': boom");
  });

  it("R8b start failure: the instance leaves the count and the run aborts, without recovery mode", () => {
    let s = start();
    s = send(s, { type: "instance.failed", instance: "client.1", message: "no capacity" });
    expect(s.context.abort).toBe("no capacity");
    expect(s.context.recoveryMode).toBe(false);
    expect(s.context.instances.get("client.1")!.live).toBe(false);
    s = send(s, { type: "initialized" });
    // apache.1 has not come up yet: the barrier waits for it, so it gets to send its report
    expect(runStateOf(s)).toBe("Provisioning");
    s = send(s, up("apache.1"), up("client.2"), done("apache.1", "Provisioning"), done("client.2", "Provisioning"));
    expect(runStateOf(s)).toBe("Executing");
    s = send(s, done("apache.1", "Executing"), done("client.2", "Executing"));
    s = send(s, done("apache.1", "SendingReports"));
    expect(runStateOf(s)).toBe("SendingReports");
    s = send(s, done("client.2", "SendingReports"));
    expect(runStateOf(s)).toBe("Ready");
  });

  it("R8b start failure: not for an instance that came up, nor twice", () => {
    let s = send(runIn("Provisioning"), up("apache.1"));
    expect(applyRunEvent(s, { type: "instance.failed", instance: "apache.1", message: "x" }).handled).toBe(false);
    s = send(s, { type: "instance.failed", instance: "client.1", message: "first" });
    expect(applyRunEvent(s, { type: "instance.failed", instance: "client.1", message: "again" }).handled).toBe(false);
  });

  it("R19 instance lost: it leaves the count, the run aborts without recovery mode and drains to Finalizing", () => {
    let s = runIn("Executing", { keepRunning: "never" });
    s = send(s, done("apache.1", "Executing"));
    s = send(s, { type: "instance.lost", instance: "client.1", message: "agent of client.1 lost" });
    expect(s.context.abort).toBe("agent of client.1 lost");
    expect(s.context.recoveryMode).toBe(false);
    expect(s.context.instances.get("client.1")!.live).toBe(false);
    // the barrier no longer waits for client.1: the survivors complete and send their reports
    expect(runStateOf(s)).toBe("Executing");
    s = send(s, done("client.2", "Executing"));
    expect(runStateOf(s)).toBe("SendingReports");
    s = send(s, done("apache.1", "SendingReports"), done("client.2", "SendingReports"));
    expect(runStateOf(s)).toBe("Ready");
    s = send(s, done("apache.1", "Ready"), done("client.2", "Ready"));
    expect(runStateOf(s)).toBe("Finalizing");
    s = send(s, { type: "finalized" });
    expect(runStateOf(s)).toBe("Aborted");
    expect(s.context.abort).toBe("agent of client.1 lost");
  });

  it("R19 instance lost: the first abort message wins, and a lost barrier straggler meets the barrier", () => {
    let s = send(runIn("SendingReports"), abort("first"), done("apache.1", "SendingReports"));
    s = send(s, done("client.2", "SendingReports"));
    expect(runStateOf(s)).toBe("SendingReports");
    s = send(s, { type: "instance.lost", instance: "client.1", message: "agent of client.1 lost" });
    expect(s.context.abort).toBe("first");
    expect(runStateOf(s)).toBe("Ready");
    s = send(s, done("apache.1", "Ready"), done("client.2", "Ready"));
    expect(runStateOf(s)).toBe("Finalizing"); // on-success with an abort: not kept
  });

  it("R19 instance lost: every agent lost, the run still ends", () => {
    let s = runIn("Executing");
    for (const n of ALL) s = send(s, { type: "instance.lost", instance: n, message: `agent of ${n} lost` });
    expect(runStateOf(s)).toBe("Finalizing");
    expect(runStateOf(send(s, { type: "finalized" }))).toBe("Aborted");
  });

  it("R19 instance lost: handled from Initializing to Ready for a live instance that came up, once", () => {
    const lost = (n: string): RunMachineEvent => ({
      type: "instance.lost",
      instance: n,
      message: `agent of ${n} lost`,
    });
    notHandled(runIn("Provisioning"), lost("apache.1")); // never came up: R8b's case, not this one
    notHandled(runIn("Executing"), lost("nope.1"));
    const s = send(runIn("Executing"), lost("client.1"));
    notHandled(s, lost("client.1"));
    for (const st of ["Initializing", "Provisioning", "Executing", "SendingReports", "Ready"] as RunState[]) {
      expect(applyRunEvent(send(runIn(st), up("apache.1")), lost("apache.1")).handled, st).toBe(true);
    }
    notHandled(send(runIn("Finalizing")), lost("apache.1"));
    for (const t of terminalRuns()) notHandled(t, lost("apache.1"));
  });

  it("R8 recovery mode: set only by an abort in Initializing or Provisioning", () => {
    for (const st of NON_TERMINAL) {
      const s = send(runIn(st), up("apache.1"), abort("x"));
      expect(s.context.recoveryMode, st).toBe(st === "Initializing" || st === "Provisioning");
    }
  });

  it("R8 recovery mode: the barrier then ignores instances that never came up", () => {
    let s = runIn("Provisioning");
    s = send(s, up("apache.1"), up("client.1"));
    s = send(s, done("apache.1", "Provisioning"));
    expect(runStateOf(s)).toBe("Provisioning");
    s = send(s, abort("client.2 failed to start", "client.2"));
    expect(runStateOf(s)).toBe("Provisioning"); // client.1 came up, still counted
    s = send(s, done("client.1", "Provisioning"));
    expect(runStateOf(s)).toBe("Executing"); // client.2 never came up: not waited on
    s = send(s, done("apache.1", "Executing"), done("client.1", "Executing"));
    expect(runStateOf(s)).toBe("SendingReports");
    // an instance that comes up late is counted again
    s = send(s, up("client.2"), done("apache.1", "SendingReports"), done("client.1", "SendingReports"));
    expect(runStateOf(s)).toBe("SendingReports");
    s = send(s, done("client.2", "SendingReports"));
    expect(runStateOf(s)).toBe("Ready");
  });

  it("R8 recovery mode: abort during Provisioning completes the barrier when the rest already completed", () => {
    let s = runIn("Provisioning");
    s = send(s, done("apache.1", "Provisioning"), done("client.1", "Provisioning"));
    const r = applyRunEvent(s, abort("client.2 did not start"));
    expect(runStateOf(r.snapshot)).toBe("Executing");
  });

  it("R8 recovery mode: a run where no instance ever came up falls through to Finalizing → Aborted", () => {
    let s = start();
    s = send(s, abort("machine apache.1 failed to start"), abort("machine client.1 failed to start"));
    expect(s.context.recoveryMode).toBe(true);
    const r = applyRunEvent(s, { type: "initialized" });
    expect(runStateOf(r.snapshot)).toBe("Finalizing");
    expect(r.actions.at(-1)).toBe("stopMachines");
    s = send(r.snapshot, { type: "finalized" });
    expect(runStateOf(s)).toBe("Aborted");
    expect(s.context.abort).toBe("machine apache.1 failed to start");

    // the same, abort while already Provisioning
    const p = applyRunEvent(runIn("Provisioning"), abort("no machine started"));
    expect(runStateOf(p.snapshot)).toBe("Finalizing");
    expect(runStateOf(send(p.snapshot, { type: "finalized" }))).toBe("Aborted");
  });

  it("R9 abort reset: clears abort and recovery mode", () => {
    let s = send(runIn("Provisioning"), up("apache.1"), abort("x"));
    expect(s.context).toMatchObject({ abort: "x", recoveryMode: true });
    s = send(s, { type: "abort.reset" });
    expect(s.context).toMatchObject({ abort: null, recoveryMode: false });
    // after the reset the next abort message is recorded again
    s = send(s, abort("y"));
    expect(s.context.abort).toBe("y");
  });

  it("R9 abort reset: handled in every non-terminal state when set, not handled when nothing is set", () => {
    for (const st of NON_TERMINAL) {
      const clean = send(runIn(st), up("apache.1"));
      notHandled(clean, { type: "abort.reset" });
      const aborted = send(clean, abort("x"));
      const r = applyRunEvent(aborted, { type: "abort.reset" });
      expect(r.handled, st).toBe(true);
      expect(r.snapshot.context.abort).toBeNull();
      expect(runStateOf(r.snapshot)).toBe(st);
    }
  });

  it("R9 abort reset: recovery mode off makes the barrier wait on never-up instances again", () => {
    let s = send(runIn("Provisioning"), up("apache.1"), up("client.1"), abort("x"));
    s = send(s, { type: "abort.reset" });
    s = send(s, done("apache.1", "Provisioning"), done("client.1", "Provisioning"));
    expect(runStateOf(s)).toBe("Provisioning"); // client.2 is counted again
  });

  it.each(["Initializing", "Provisioning", "Executing", "SendingReports"] as RunState[])(
    "R10 terminate: before Ready (%s) → Cancelled, stopping machines",
    (st) => {
      const s = runIn(st);
      const r = applyRunEvent(s, { type: "terminate" });
      expect(r.handled).toBe(true);
      expect(runStateOf(r.snapshot)).toBe("Cancelled");
      expect(r.snapshot.status).toBe("done");
      expect(r.actions).toEqual(["notifyState", "stopMachines"]);
    },
  );

  it("R10 terminate: from Ready → Finalizing → Done, or Aborted when an abort is set", () => {
    const s = runIn("Ready");
    const r = applyRunEvent(s, { type: "terminate" });
    expect(runStateOf(r.snapshot)).toBe("Finalizing");
    expect(r.actions).toEqual(["notifyState", "stopMachines"]);
    expect(runStateOf(send(r.snapshot, { type: "finalized" }))).toBe("Done");

    const aborted = send(s, abort("x"), { type: "terminate" });
    expect(runStateOf(aborted)).toBe("Finalizing");
    expect(runStateOf(send(aborted, { type: "finalized" }))).toBe("Aborted");
  });

  it("R10 terminate: not handled in Finalizing or terminal states", () => {
    notHandled(runIn("Finalizing"), { type: "terminate" });
    for (const s of terminalRuns()) notHandled(s, { type: "terminate" });
  });

  it("R11 finalizing: `finalized` gives Done without abort, Aborted with one; only in Finalizing", () => {
    const f = runIn("Finalizing");
    expect(runStateOf(send(f, { type: "finalized" }))).toBe("Done");
    expect(runStateOf(send(f, abort("late"), { type: "finalized" }))).toBe("Aborted");
    expect(runStateOf(send(f, abort("late"), { type: "abort.reset" }, { type: "finalized" }))).toBe("Done");
    for (const st of NON_TERMINAL.filter((x) => x !== "Finalizing")) notHandled(runIn(st), { type: "finalized" });
  });

  const KEEP_TABLE: [KeepRunning, boolean, RunState][] = [
    ["always", false, "Ready"],
    ["always", true, "Ready"],
    ["on-success", false, "Ready"],
    ["on-success", true, "Finalizing"],
    ["on-error", false, "Finalizing"],
    ["on-error", true, "Ready"],
    ["never", false, "Finalizing"],
    ["never", true, "Finalizing"],
  ];
  it.each(KEEP_TABLE)("R12 ready decision: keep-running %s, aborted=%s → %s", (keepRunning, aborted, expected) => {
    let s = runTo("Executing", { keepRunning });
    if (aborted) s = send(s, abort("failed"));
    s = completeAll(s); // → SendingReports
    s = completeAll(s); // → Ready
    expect(runStateOf(s)).toBe("Ready");
    expect(s.context.kept).toBe(false);
    s = completeAll(s);
    expect(runStateOf(s)).toBe(expected);
    expect(s.context.kept).toBe(expected === "Ready");
    if (expected === "Finalizing") {
      expect(runStateOf(send(s, { type: "finalized" }))).toBe(aborted ? "Aborted" : "Done");
    }
  });

  it.each(["never", "on-success", "on-error"] as KeepRunning[])(
    "R12 ready decision: a scalable run stays Ready whatever keep-running (%s)",
    (keepRunning) => {
      let s = runTo("Ready", { keepRunning, scalable: true });
      s = completeAll(s);
      expect(runStateOf(s)).toBe("Ready");
      expect(s.context.kept).toBe(true);
      const aborted = completeAll(send(runTo("Ready", { keepRunning, scalable: true }), abort("x")));
      expect(runStateOf(aborted)).toBe("Ready");
    },
  );

  it("R13 kept run does not re-decide on abort or abort reset (interactive debugging)", () => {
    // keep running on error: abort, stay Ready, reset by hand, still Ready
    let s = runTo("Executing", { keepRunning: "on-error" });
    s = send(s, abort("Failed running 'execute' on 'client.1': oops"));
    s = completeAll(completeAll(completeAll(s)));
    expect(runStateOf(s)).toBe("Ready");
    expect(s.context.kept).toBe(true);
    s = send(s, { type: "abort.reset" });
    expect(runStateOf(s)).toBe("Ready");
    expect(s.context.abort).toBeNull();
    // on-success kept run gets aborted later: still Ready
    let t = completeAll(runTo("Ready", { keepRunning: "on-success" }));
    expect(t.context.kept).toBe(true);
    t = send(t, abort("late"));
    expect(runStateOf(t)).toBe("Ready");
    // terminate is how a kept run ends; it then ends by the abort flag
    t = send(t, { type: "terminate" });
    expect(runStateOf(t)).toBe("Finalizing");
    expect(t.context.kept).toBe(false);
    expect(runStateOf(send(t, { type: "finalized" }))).toBe("Aborted");
  });

  it("R13 kept is cleared when leaving Ready and decided again on the next Ready visit", () => {
    let s = completeAll(runTo("Ready", { scalable: true }));
    expect(s.context.kept).toBe(true);
    s = send(s, { type: "scale", node: "client", add: [{ name: "client.3", node: "client" }], remove: [] });
    expect(runStateOf(s)).toBe("Provisioning");
    expect(s.context.kept).toBe(false);
    const all = [...ALL, "client.3"];
    s = completeAll(completeAll(completeAll(s, all), all), all);
    expect(runStateOf(s)).toBe("Ready");
    expect(s.context.kept).toBe(false);
    s = completeAll(s, all);
    expect(s.context.kept).toBe(true);
  });

  it("R14 scale: add cycles Ready → Provisioning → … → Ready with the added instance counted", () => {
    let s = completeAll(runTo("Ready", { scalable: true }));
    const r = applyRunEvent(s, {
      type: "scale",
      node: "client",
      add: [
        { name: "client.3", node: "client" },
        { name: "client.4", node: "client" },
      ],
      remove: [],
    });
    expect(r.handled).toBe(true);
    expect(r.actions).toEqual(["startScaledMachines", "notifyState"]);
    expect(r.effects[0]).toEqual({
      type: "startScaledMachines",
      params: { node: "client", instances: ["client.3", "client.4"] },
    });
    s = r.snapshot;
    expect(runStateOf(s)).toBe("Provisioning");
    expect(s.context.scaling).toEqual({ action: "vm_add", node: "client", instances: ["client.3", "client.4"] });
    expect(s.context.instances.get("client.3")!).toEqual({
      node: "client",
      live: true,
      cameUp: false,
      completed: false,
    });
    expect(countedInstances(s.context)).toEqual([...ALL, "client.3", "client.4"]);
    // the old instances alone do not meet the barrier
    s = completeAll(s);
    expect(runStateOf(s)).toBe("Provisioning");
    s = send(s, up("client.3"), up("client.4"), done("client.3", "Provisioning"), done("client.4", "Provisioning"));
    expect(runStateOf(s)).toBe("Executing");
    const all = [...ALL, "client.3", "client.4"];
    s = completeAll(s, all);
    expect(runStateOf(s)).toBe("SendingReports");
    expect(s.context.scaling).not.toBeNull();
    s = completeAll(s, all);
    expect(runStateOf(s)).toBe("Ready");
    expect(s.context.scaling).toBeNull();
    s = completeAll(s, all);
    expect(runStateOf(s)).toBe("Ready");
  });

  it("R14 scale: remove marks instances not live, and they are not counted", () => {
    let s = completeAll(runTo("Ready", { scalable: true }));
    const r = applyRunEvent(s, { type: "scale", node: "client", add: [], remove: ["client.2"] });
    expect(r.handled).toBe(true);
    expect(r.actions).toEqual(["stopRemovedMachines", "notifyState"]);
    expect(r.effects[0]).toEqual({ type: "stopRemovedMachines", params: { node: "client", instances: ["client.2"] } });
    s = r.snapshot;
    expect(s.context.instances.get("client.2")!.live).toBe(false);
    expect(s.context.scaling).toEqual({ action: "vm_remove", node: "client", instances: ["client.2"] });
    expect(countedInstances(s.context)).toEqual(["apache.1", "client.1"]);
    const rest = ["apache.1", "client.1"];
    s = completeAll(completeAll(completeAll(s, rest), rest), rest);
    expect(runStateOf(s)).toBe("Ready");
    expect(s.context.scaling).toBeNull();
  });

  it("R14 scale: refused when not scalable or not in Ready", () => {
    const ev: RunMachineEvent = {
      type: "scale",
      node: "client",
      add: [{ name: "client.3", node: "client" }],
      remove: [],
    };
    notHandled(completeAll(runTo("Ready", { keepRunning: "always" })), ev);
    for (const st of NON_TERMINAL.filter((x) => x !== "Ready")) notHandled(runIn(st, { scalable: true }), ev);
  });

  it("R14 scale: refused while an abort is set, taken again once it is reset", () => {
    const ev: RunMachineEvent = {
      type: "scale",
      node: "client",
      add: [{ name: "client.3", node: "client" }],
      remove: [],
    };
    const aborted = send(completeAll(runTo("Ready", { scalable: true })), abort("boom"));
    expect(runStateOf(aborted)).toBe("Ready");
    notHandled(aborted, ev);
    notHandled(aborted, { type: "scale", node: "client", add: [], remove: ["client.2"] });
    expect(runStateOf(send(aborted, { type: "abort.reset" }, ev))).toBe("Provisioning");
  });

  it("R14 scale: refused when malformed (empty, both ways, existing or foreign names, dead instances)", () => {
    const s = completeAll(runTo("Ready", { scalable: true }));
    const scale = (add: { name: string; node: string }[], remove: string[], node = "client"): RunMachineEvent => ({
      type: "scale",
      node,
      add,
      remove,
    });
    notHandled(s, scale([], []));
    notHandled(s, scale([{ name: "client.3", node: "client" }], ["client.1"]));
    notHandled(s, scale([{ name: "client.1", node: "client" }], []));
    notHandled(
      s,
      scale(
        [
          { name: "client.3", node: "client" },
          { name: "client.3", node: "client" },
        ],
        [],
      ),
    );
    notHandled(s, scale([{ name: "apache.2", node: "apache" }], []));
    notHandled(s, scale([], ["apache.1"]));
    notHandled(s, scale([], ["client.9"]));
    // a removed instance cannot be removed again
    const removed = completeAll(
      completeAll(completeAll(send(s, scale([], ["client.2"])), ["apache.1", "client.1"]), ["apache.1", "client.1"]),
      ["apache.1", "client.1"],
    );
    expect(runStateOf(removed)).toBe("Ready");
    notHandled(removed, scale([], ["client.2"]));
    notHandled(removed, scale([{ name: "client.2", node: "client" }], []));
  });

  it.each(["Initializing", "Provisioning", "Executing", "SendingReports"] as RunState[])(
    "R15 timeout: from %s → Finalizing with 'The run has timed out' → Aborted",
    (st) => {
      const r = applyRunEvent(runIn(st), { type: "timeout" });
      expect(r.handled).toBe(true);
      expect(runStateOf(r.snapshot)).toBe("Finalizing");
      expect(r.snapshot.context.abort).toBe("The run has timed out");
      expect(r.actions).toEqual(["notifyState", "stopMachines"]);
      expect(runStateOf(send(r.snapshot, { type: "finalized" }))).toBe("Aborted");
    },
  );

  it("R15 timeout: keeps an earlier abort message; not handled in Ready, Finalizing or terminal states", () => {
    const s = send(runIn("Executing"), abort("earlier"), { type: "timeout" });
    expect(runStateOf(s)).toBe("Finalizing");
    expect(s.context.abort).toBe("earlier");
    notHandled(s, { type: "timeout" });
    notHandled(runIn("Ready"), { type: "timeout" });
    for (const t of terminalRuns()) notHandled(t, { type: "timeout" });
  });

  it("R16 final states: Done, Aborted and Cancelled handle no event", () => {
    const events: RunMachineEvent[] = [
      { type: "initialized" },
      up("apache.1"),
      done("apache.1", "Ready"),
      abort("x"),
      { type: "abort.reset" },
      { type: "terminate" },
      { type: "finalized" },
      { type: "scale", node: "client", add: [{ name: "client.3", node: "client" }], remove: [] },
      { type: "timeout" },
    ];
    const runs = terminalRuns();
    expect(runs.map(runStateOf)).toEqual(["Done", "Aborted", "Cancelled"]);
    for (const s of runs) {
      expect(s.status).toBe("done");
      for (const e of events) notHandled(s, e);
    }
  });

  it("R17 effects: startMachines and notifyState on creation, notifyState on every state entry", () => {
    const r = createRun({ instances: INSTANCES, keepRunning: "on-success", scalable: false });
    expect(r.actions).toEqual(["notifyState", "startMachines"]);
    expect(r.effects[0]).toEqual({ type: "notifyState", params: { state: "Initializing" } });
    let s = r.snapshot;
    const step = applyRunEvent(s, { type: "initialized" });
    expect(step.actions).toEqual(["notifyState"]);
    expect(step.effects).toEqual([{ type: "notifyState", params: { state: "Provisioning" } }]);
    s = step.snapshot;
    // a completion that does not end the barrier emits nothing (the assign is internal)
    const partial = applyRunEvent(s, done("apache.1", "Provisioning"));
    expect(partial.handled).toBe(true);
    expect(partial.actions).toEqual([]);
    s = send(partial.snapshot, done("client.1", "Provisioning"));
    const last = applyRunEvent(s, done("client.2", "Provisioning"));
    expect(last.effects).toEqual([{ type: "notifyState", params: { state: "Executing" } }]);
    // no xstate internals ever
    for (const a of [...r.actions, ...step.actions, ...last.actions]) expect(a.startsWith("xstate.")).toBe(false);
    // final state entries notify too
    const f = applyRunEvent(runIn("Finalizing"), { type: "finalized" });
    expect(f.effects).toEqual([{ type: "notifyState", params: { state: "Done" } }]);
  });

  it("R17 effects: stopMachines on Cancelled and Finalizing; scale effects on scale", () => {
    expect(applyRunEvent(runIn("Executing"), { type: "terminate" }).actions).toEqual(["notifyState", "stopMachines"]);
    const fin = applyRunEvent(runIn("Ready"), { type: "terminate" });
    expect(fin.effects).toEqual([{ type: "notifyState", params: { state: "Finalizing" } }, { type: "stopMachines" }]);
    const ready = completeAll(runTo("Ready", { scalable: true }));
    const add = applyRunEvent(ready, {
      type: "scale",
      node: "apache",
      add: [{ name: "apache.2", node: "apache" }],
      remove: [],
    });
    expect(add.actions).toEqual(["startScaledMachines", "notifyState"]);
    const rm = applyRunEvent(ready, { type: "scale", node: "apache", add: [], remove: ["apache.1"] });
    expect(rm.actions).toEqual(["stopRemovedMachines", "notifyState"]);
  });

  it("R18 persistence: persist → JSON → restore mid-run continues identically", () => {
    let s = runIn("Provisioning");
    s = send(s, up("apache.1"), up("client.1"), done("apache.1", "Provisioning"), abort("half started"));
    const persisted = persistRun(s);
    const json = JSON.stringify(persisted);
    const restored = restoreRun(JSON.parse(json));
    expect(runStateOf(restored)).toBe(runStateOf(s));
    expect(restored.context).toEqual(s.context);
    expect(restored.status).toBe("active");

    const rest: RunMachineEvent[] = [
      done("apache.1", "Provisioning"), // stale: refused by both
      done("client.1", "Provisioning"),
      done("apache.1", "Executing"),
      done("client.1", "Executing"),
      { type: "abort.reset" },
      ...ALL.map((n) => done(n, "SendingReports")),
      { type: "terminate" },
      { type: "finalized" },
    ];
    let a = s;
    let b = restored;
    for (const e of rest) {
      const ra = applyRunEvent(a, e);
      const rb = applyRunEvent(b, e);
      expect(rb.handled, e.type).toBe(ra.handled);
      expect(rb.actions).toEqual(ra.actions);
      expect(rb.effects).toEqual(ra.effects);
      expect(runStateOf(rb.snapshot)).toBe(runStateOf(ra.snapshot));
      expect(rb.snapshot.context).toEqual(ra.snapshot.context);
      // and persisting again at every step gives the same thing
      expect(JSON.stringify(persistRun(rb.snapshot))).toBe(JSON.stringify(persistRun(ra.snapshot)));
      a = ra.snapshot;
      b = restoreRun(JSON.parse(JSON.stringify(persistRun(rb.snapshot))));
    }
    expect(runStateOf(b)).toBe("Done");
    expect(b.status).toBe("done");
  });

  it("R18 persistence: kept Ready and terminal snapshots restore faithfully; malformed input is rejected", () => {
    const kept = completeAll(runTo("Ready", { scalable: true }));
    const k = restoreRun(JSON.parse(JSON.stringify(persistRun(kept))));
    expect(k.context.kept).toBe(true);
    expect(runStateOf(send(k, abort("x")))).toBe("Ready");
    for (const t of terminalRuns()) {
      const r = restoreRun(JSON.parse(JSON.stringify(persistRun(t))));
      expect(runStateOf(r)).toBe(runStateOf(t));
      expect(r.status).toBe("done");
      notHandled(r, { type: "terminate" });
    }
    expect(() => restoreRun(null)).toThrow();
    expect(() => restoreRun({ value: "Sleeping", context: kept.context })).toThrow();
    expect(() => restoreRun({ value: "Ready", context: { ...kept.context, keepRunning: "sometimes" } })).toThrow();
  });
});

/** One run ended in each terminal state: Done, Aborted, Cancelled. */
function terminalRuns(): RunSnapshot[] {
  const fin = runIn("Finalizing");
  return [
    send(fin, { type: "finalized" }),
    send(fin, abort("x"), { type: "finalized" }),
    send(runIn("Executing"), { type: "terminate" }),
  ];
}
