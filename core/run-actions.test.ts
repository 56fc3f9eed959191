import { describe, expect, it } from "vitest";
import { RUN_STATES, RunAction, type RunState } from "../protocol/run.js";
import { InstanceTable } from "./instance-table.js";
import { allowedActions, commandAnswer, type RunFacts, refusal } from "./run-actions.js";
import { type RunMachineEvent, type RunSnapshot, runMachine } from "./run-machine.js";
import { isTerminal } from "./run-states.js";

/** A snapshot of the run machine in `state` with these flags (one live instance that came up). */
function snapshotOf(f: RunFacts): RunSnapshot {
  return runMachine.resolveState({
    value: f.state,
    context: {
      instances: InstanceTable.fromRecord({ "web.1": { node: "web", live: true, cameUp: true, completed: false } }),
      keepRunning: "always",
      scalable: f.scalable,
      abort: f.abort,
      recoveryMode: f.recoveryMode,
      kept: f.state === "Ready",
      scaling: null,
    },
  });
}

/** The machine event each action sends, or null for an action the machine has no event for (setParam). */
const EVENTS: Record<RunAction, RunMachineEvent | null> = {
  abort: { type: "abort", message: "stop" },
  resetAbort: { type: "abort.reset" },
  terminate: { type: "terminate" },
  scale: { type: "scale", node: "web", add: [{ name: "web.2", node: "web" }], remove: [] },
  setParam: null,
};

/** What the machine itself answers to the action: whether it takes the event (setParam: whether the run is active). */
function machineTakes(s: RunSnapshot, action: RunAction): boolean {
  const event = EVENTS[action];
  return event === null ? s.status === "active" : s.status === "active" && s.can(event);
}

const EVERY: RunFacts[] = RUN_STATES.flatMap((state) =>
  [null, "first"].flatMap((abort) =>
    [false, true].flatMap((recoveryMode) =>
      [false, true].map((scalable) => ({ state, abort, recoveryMode, scalable })),
    ),
  ),
);
const name = (f: RunFacts) =>
  `${f.state}${f.abort ? " aborted" : ""}${f.recoveryMode ? " recovery" : ""}${f.scalable ? " scalable" : ""}`;

/** The accepted no-ops (A1, A3): what the server accepts and changes nothing, so it does not offer them. */
const NO_OPS = (f: RunFacts): RunAction[] => [
  ...(f.abort !== null && !isTerminal(f.state) ? ["abort" as const] : []),
  ...(f.state === "Finalizing" ? ["terminate" as const] : []),
];

describe("allowed actions (run-rules A1–A6) agree with the run machine", () => {
  it.each(EVERY.map((f) => [name(f), f] as const))(
    "A6 one rule: %s — every offered action is one the machine takes; every refused one it refuses",
    (_, f) => {
      const s = snapshotOf(f);
      for (const action of RunAction.options) {
        const answer = commandAnswer(action, f);
        const takes = machineTakes(s, action);
        if (answer === "do") expect(takes, `${action} offered but the machine refuses it`).toBe(true);
        if (answer === "refuse") expect(takes, `${action} refused but the machine takes it`).toBe(false);
        if (answer === "no-op") expect(NO_OPS(f)).toContain(action);
        expect(allowedActions(f).includes(action)).toBe(answer === "do");
        expect(refusal(action, f) !== null).toBe(answer === "refuse");
      }
    },
  );

  it("A6 one rule: the only actions the machine takes that are not offered are the accepted no-ops", () => {
    for (const f of EVERY) {
      const s = snapshotOf(f);
      const notOffered = RunAction.options.filter((a) => machineTakes(s, a) && !allowedActions(f).includes(a));
      // a second abort is handled by the machine (R7) and keeps the first message: nothing for a person to do
      expect(notOffered, name(f)).toEqual(notOffered.length ? ["abort"] : []);
      if (notOffered.length) expect(f.abort).not.toBeNull();
    }
  });

  it("A1 abort: offered while the run is not over and no abort is set; a second one is an accepted no-op", () => {
    const base = { recoveryMode: false, scalable: false };
    for (const state of ["Initializing", "Executing", "Ready", "Finalizing"] as RunState[]) {
      expect(allowedActions({ state, abort: null, ...base })).toContain("abort");
      expect(commandAnswer("abort", { state, abort: "first", ...base })).toBe("no-op");
    }
    expect(refusal("abort", { state: "Done", abort: null, ...base })).toBe("run already ended Done");
  });

  it("A2 reset abort: offered when an abort is set or recovery mode is on, and the run is not over", () => {
    expect(allowedActions({ state: "Executing", abort: "x", recoveryMode: false, scalable: false })).toContain(
      "resetAbort",
    );
    expect(allowedActions({ state: "Provisioning", abort: null, recoveryMode: true, scalable: false })).toContain(
      "resetAbort",
    );
    expect(refusal("resetAbort", { state: "Executing", abort: null, recoveryMode: false, scalable: false })).toBe(
      "nothing to reset: the run is Executing with no abort and no recovery mode",
    );
    expect(commandAnswer("resetAbort", { state: "Aborted", abort: "x", recoveryMode: false, scalable: false })).toBe(
      "refuse",
    );
  });

  it("A3 terminate: offered from Initializing to Ready; accepted as a no-op in Finalizing (S2); refused once ended", () => {
    const f = (state: RunState): RunFacts => ({ state, abort: null, recoveryMode: false, scalable: false });
    for (const state of ["Initializing", "Provisioning", "Executing", "SendingReports", "Ready"] as RunState[]) {
      expect(allowedActions(f(state))).toContain("terminate");
    }
    expect(commandAnswer("terminate", f("Finalizing"))).toBe("no-op");
    expect(allowedActions(f("Finalizing"))).not.toContain("terminate");
    expect(refusal("terminate", f("Cancelled"))).toBe("the run is already Cancelled");
  });

  it("A4 scale: offered only for a scalable run in Ready with no abort; each refusal says why", () => {
    const ready = { state: "Ready" as const, abort: null, recoveryMode: false, scalable: true };
    expect(allowedActions(ready)).toContain("scale");
    expect(refusal("scale", { ...ready, scalable: false })).toBe("the run was not created scalable");
    expect(refusal("scale", { ...ready, state: "Executing" })).toBe("scaling needs the run in Ready; it is Executing");
    expect(refusal("scale", { ...ready, abort: "boom" })).toBe(
      "the run is aborted (boom): reset the abort (slipstream abort --cancel) before scaling it",
    );
  });

  it("A5 set a parameter: offered while the run is not over, abort or not; refused once it ended", () => {
    expect(allowedActions({ state: "Ready", abort: "x", recoveryMode: false, scalable: false })).toContain("setParam");
    expect(allowedActions({ state: "Done", abort: null, recoveryMode: false, scalable: false })).toEqual([]);
  });

  it("A6 allowed is listed in RunAction order", () => {
    expect(allowedActions({ state: "Ready", abort: "x", recoveryMode: true, scalable: true })).toEqual([
      "resetAbort",
      "terminate",
      "setParam",
    ]);
    expect(allowedActions({ state: "Ready", abort: null, recoveryMode: false, scalable: true })).toEqual([
      "abort",
      "terminate",
      "scale",
      "setParam",
    ]);
  });
});
