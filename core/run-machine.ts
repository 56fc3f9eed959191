/**
 * The run lifecycle as a pure XState v5 machine (its rules are written in `run-rules.md`).
 *
 * No I/O and no timers live here. Side effects are named actions with no-op implementations;
 * the server computes transitions with xstate's pure `transition()` / `initialTransition()`
 * (through `createRun` / `applyRunEvent`) and performs the returned action types itself.
 */
import { and, assign, initialTransition, not, type SnapshotFrom, setup, transition } from "xstate";
import type { KeepRunning, RunState } from "../protocol/run.js";
import { RUN_STATES } from "../protocol/run.js";
import { InstanceTable } from "./instance-table.js";
import type { InstanceInfo, RunContext } from "./run-context.js";

export interface RunInput {
  instances: { name: string; node: string }[];
  keepRunning: KeepRunning;
  scalable: boolean;
}

export type RunMachineEvent =
  | { type: "initialized" }
  | { type: "instance.up"; instance: string }
  | { type: "instance.completed"; instance: string; state: RunState }
  | { type: "abort"; message: string; instance?: string | null }
  /** the instance's machine could not be started: it will never come up */
  | { type: "instance.failed"; instance: string; message: string }
  /** the instance's agent stopped answering and did not come back within the run's grace: it is gone (R19) */
  | { type: "instance.lost"; instance: string; message: string }
  | { type: "abort.reset" }
  | { type: "terminate" }
  | { type: "finalized" }
  | { type: "scale"; node: string; add: { name: string; node: string }[]; remove: string[] }
  | { type: "timeout" };

/** The side-effect action types the server performs (xstate internals such as assign are never reported). */
const RUN_EFFECTS = [
  "notifyState",
  "startMachines",
  "stopMachines",
  "startScaledMachines",
  "stopRemovedMachines",
] as const;
type RunEffectType = (typeof RUN_EFFECTS)[number];

/** A side effect with its parameters: `notifyState` carries the state entered, scale effects the instances. */
export type RunEffect =
  | { type: "notifyState"; params: { state: RunState } }
  | { type: "startMachines"; params?: undefined }
  | { type: "stopMachines"; params?: undefined }
  | { type: "startScaledMachines"; params: { node: string; instances: string[] } }
  | { type: "stopRemovedMachines"; params: { node: string; instances: string[] } };

/** SlipStream's own words (its garbage collector's), which scripts and people may look for */
export const TIMEOUT_MESSAGE = "The run has timed out";

/** Instances the barrier waits on: live ones and, in recovery mode, only those that came up. */
export function countedInstances(ctx: RunContext): string[] {
  return [...ctx.instances].filter(([, i]) => i.live && (!ctx.recoveryMode || i.cameUp)).map(([name]) => name);
}

/** Evaluated after every event of a barrier state: from the table's counts, not a walk over the run's instances. */
function allCountedCompleted(ctx: RunContext): boolean {
  return ctx.instances.count({ live: true, completed: false, ...(ctx.recoveryMode ? { cameUp: true } : {}) }) === 0;
}

function keepRunningAllows(ctx: RunContext): boolean {
  if (ctx.scalable) return true;
  switch (ctx.keepRunning) {
    case "always":
      return true;
    case "on-success":
      return ctx.abort === null;
    case "on-error":
      return ctx.abort !== null;
    case "never":
      return false;
  }
}

const liveInstance = (ctx: RunContext, name: string): boolean => ctx.instances.get(name)?.live === true;

type ScaleEvent = Extract<RunMachineEvent, { type: "scale" }>;

/** A scale request is well formed and the run takes it (scalable, no abort): one direction only, new unique names / existing live instances of `node`. */
function scaleIsValid(ctx: RunContext, e: ScaleEvent): boolean {
  // an aborted run is not scaled: its abort is reset first (R14)
  if (!ctx.scalable || ctx.abort !== null || !e.node) return false;
  if (e.add.length > 0 === e.remove.length > 0) return false;
  const names = new Set<string>();
  for (const a of e.add) {
    if (a.node !== e.node || ctx.instances.has(a.name) || names.has(a.name)) return false;
    names.add(a.name);
  }
  for (const r of e.remove) {
    if (!liveInstance(ctx, r) || ctx.instances.get(r)?.node !== e.node || names.has(r)) return false;
    names.add(r);
  }
  return true;
}

/** The context's instances with `name`'s changed by `f` (the table shares the rest). */
function changeInstance(ctx: RunContext, name: string, f: (i: InstanceInfo) => InstanceInfo): InstanceTable {
  const info = ctx.instances.get(name);
  return info ? ctx.instances.with(name, f(info)) : ctx.instances;
}

// Handlers several states share, declared once (each state below lists what it takes).

/** Every state before the end: an agent coming up (R2) and resetting an abort (R9). */
const EVERY_ACTIVE_STATE = {
  "instance.up": { guard: "knownLiveInstance", actions: "markUp" },
  "abort.reset": { guard: "abortOrRecoverySet", actions: "resetAbort" },
} as const;
/** The first abort message wins; later ones are kept in the log only (R7). */
const ABORT = { abort: { actions: "recordAbort" } } as const;
/** A machine that failed to start (R8b) or an agent lost (R19) takes its instance out of the count and aborts. */
const FAILURES = {
  "instance.failed": { guard: "failedLiveInstance", actions: ["markFailed", "recordAbort"] },
  "instance.lost": { guard: "lostLiveInstance", actions: ["markFailed", "recordAbort"] },
} as const;
/** Before Ready: terminate cancels (R10), the deadline aborts into Finalizing (R15). */
const BEFORE_READY = {
  terminate: { target: "Cancelled" },
  timeout: { target: "Finalizing", actions: "recordAbort" },
} as const;
/** The barrier of a state: a live instance completes it once (R3, R4). */
const completes = <S extends RunState>(state: S) =>
  ({
    "instance.completed": { guard: { type: "canComplete", params: { state } }, actions: "markCompleted" },
  }) as const;

export const runMachine = setup({
  types: {
    context: {} as RunContext,
    events: {} as RunMachineEvent,
    input: {} as RunInput,
  },
  actions: {
    // ---- side effects (performed by the server, by type) ----
    notifyState: (_, _params: { state: RunState }) => {},
    startMachines: () => {},
    stopMachines: () => {},
    startScaledMachines: (_, _params: { node: string; instances: string[] }) => {},
    stopRemovedMachines: (_, _params: { node: string; instances: string[] }) => {},
    // ---- context changes ----
    resetCompletion: assign({
      instances: ({ context }) => context.instances.map((i) => (i.completed ? { ...i, completed: false } : i)),
    }),
    markUp: assign({
      instances: ({ context, event }) => {
        if (event.type !== "instance.up") return context.instances;
        return changeInstance(context, event.instance, (i) => ({ ...i, cameUp: true }));
      },
    }),
    markCompleted: assign({
      instances: ({ context, event }) => {
        if (event.type !== "instance.completed") return context.instances;
        return changeInstance(context, event.instance, (i) => ({ ...i, cameUp: true, completed: true }));
      },
    }),
    recordAbort: assign({
      abort: ({ context, event }) => {
        if (context.abort !== null) return context.abort;
        if (event.type === "abort" || event.type === "instance.failed" || event.type === "instance.lost") {
          return event.message;
        }
        if (event.type === "timeout") return TIMEOUT_MESSAGE;
        return context.abort;
      },
    }),
    markFailed: assign({
      instances: ({ context, event }) => {
        if (event.type !== "instance.failed" && event.type !== "instance.lost") return context.instances;
        return changeInstance(context, event.instance, (i) => ({ ...i, live: false }));
      },
    }),
    enterRecoveryMode: assign({ recoveryMode: true }),
    resetAbort: assign({ abort: null, recoveryMode: false }),
    keepReady: assign({ kept: true }),
    clearKept: assign({ kept: false }),
    clearScaling: assign({ scaling: null }),
    applyScale: assign(({ context, event }) => {
      if (event.type !== "scale") return {};
      let instances = context.instances.withAdded(
        event.add.map((a) => [a.name, { node: a.node, live: true, cameUp: false, completed: false }] as const),
      );
      for (const r of event.remove) {
        const info = instances.get(r);
        if (info) instances = instances.with(r, { ...info, live: false });
      }
      const added = event.add.map((a) => a.name);
      return {
        instances,
        scaling: {
          action: added.length > 0 ? ("vm_add" as const) : ("vm_remove" as const),
          node: event.node,
          instances: added.length > 0 ? added : [...event.remove],
        },
      };
    }),
  },
  guards: {
    /** Every counted instance completed the current state (vacuously true when none is counted). */
    allCompleted: ({ context }) => allCountedCompleted(context),
    isKept: ({ context }) => context.kept,
    keepRunningAllows: ({ context }) => keepRunningAllows(context),
    isAborted: ({ context }) => context.abort !== null,
    knownLiveInstance: ({ context, event }) => event.type === "instance.up" && liveInstance(context, event.instance),
    failedLiveInstance: ({ context, event }) =>
      event.type === "instance.failed" &&
      liveInstance(context, event.instance) &&
      !context.instances.get(event.instance)?.cameUp,
    lostLiveInstance: ({ context, event }) =>
      event.type === "instance.lost" &&
      liveInstance(context, event.instance) &&
      context.instances.get(event.instance)?.cameUp === true,
    /** A completion of `state` (the current state) by a live instance that has not completed it yet. */
    canComplete: ({ context, event }, params: { state: RunState }) =>
      event.type === "instance.completed" &&
      event.state === params.state &&
      liveInstance(context, event.instance) &&
      !context.instances.get(event.instance)?.completed,
    abortOrRecoverySet: ({ context }) => context.abort !== null || context.recoveryMode,
    canScaleAdd: ({ context, event }) => event.type === "scale" && event.add.length > 0 && scaleIsValid(context, event),
    canScaleRemove: ({ context, event }) =>
      event.type === "scale" && event.remove.length > 0 && scaleIsValid(context, event),
  },
}).createMachine({
  id: "run",
  initial: "Initializing",
  context: ({ input }) => ({
    instances: InstanceTable.from(
      input.instances.map((i) => [i.name, { node: i.node, live: true, cameUp: false, completed: false }] as const),
    ),
    keepRunning: input.keepRunning,
    scalable: input.scalable,
    abort: null,
    recoveryMode: false,
    kept: false,
    scaling: null,
  }),
  states: {
    Initializing: {
      entry: [{ type: "notifyState", params: { state: "Initializing" } }, "startMachines"],
      on: {
        initialized: { target: "Provisioning" },
        ...EVERY_ACTIVE_STATE,
        // an abort before Executing also enters recovery mode (R8)
        abort: { actions: ["recordAbort", "enterRecoveryMode"] },
        ...FAILURES,
        ...BEFORE_READY,
      },
    },
    Provisioning: {
      entry: ["resetCompletion", { type: "notifyState", params: { state: "Provisioning" } }],
      always: { guard: "allCompleted", target: "Executing" },
      on: {
        ...EVERY_ACTIVE_STATE,
        ...completes("Provisioning"),
        // an abort before Executing also enters recovery mode (R8)
        abort: { actions: ["recordAbort", "enterRecoveryMode"] },
        ...FAILURES,
        ...BEFORE_READY,
      },
    },
    Executing: {
      entry: ["resetCompletion", { type: "notifyState", params: { state: "Executing" } }],
      always: { guard: "allCompleted", target: "SendingReports" },
      on: { ...EVERY_ACTIVE_STATE, ...completes("Executing"), ...ABORT, ...FAILURES, ...BEFORE_READY },
    },
    SendingReports: {
      entry: ["resetCompletion", { type: "notifyState", params: { state: "SendingReports" } }],
      always: { guard: "allCompleted", target: "Ready" },
      on: { ...EVERY_ACTIVE_STATE, ...completes("SendingReports"), ...ABORT, ...FAILURES, ...BEFORE_READY },
    },
    Ready: {
      entry: ["resetCompletion", "clearScaling", { type: "notifyState", params: { state: "Ready" } }],
      exit: "clearKept",
      always: [
        { guard: and(["allCompleted", not("isKept"), "keepRunningAllows"]), actions: "keepReady" },
        { guard: and(["allCompleted", not("isKept")]), target: "Finalizing" },
      ],
      on: {
        ...EVERY_ACTIVE_STATE,
        ...completes("Ready"),
        ...ABORT,
        ...FAILURES,
        terminate: { target: "Finalizing" },
        scale: [
          {
            guard: "canScaleAdd",
            target: "Provisioning",
            actions: [
              "applyScale",
              {
                type: "startScaledMachines",
                params: ({ event }) => ({ node: event.node, instances: event.add.map((a) => a.name) }),
              },
            ],
          },
          {
            guard: "canScaleRemove",
            target: "Provisioning",
            actions: [
              "applyScale",
              {
                type: "stopRemovedMachines",
                params: ({ event }) => ({ node: event.node, instances: [...event.remove] }),
              },
            ],
          },
        ],
      },
    },
    Finalizing: {
      entry: [{ type: "notifyState", params: { state: "Finalizing" } }, "stopMachines"],
      on: {
        ...EVERY_ACTIVE_STATE,
        ...ABORT,
        finalized: [{ guard: "isAborted", target: "Aborted" }, { target: "Done" }],
      },
    },
    Done: { type: "final", entry: { type: "notifyState", params: { state: "Done" } } },
    Aborted: { type: "final", entry: { type: "notifyState", params: { state: "Aborted" } } },
    Cancelled: {
      type: "final",
      entry: [{ type: "notifyState", params: { state: "Cancelled" } }, "stopMachines"],
    },
  },
});

export type RunSnapshot = SnapshotFrom<typeof runMachine>;

interface RunStep {
  snapshot: RunSnapshot;
  /** Side-effect action types, in execution order (xstate internals excluded). */
  actions: RunEffectType[];
  /** The same, with their parameters (e.g. which state `notifyState` announces). */
  effects: RunEffect[];
}

function toEffects(actions: readonly { type: string; params?: unknown }[]): RunEffect[] {
  const known = new Set<string>(RUN_EFFECTS);
  return actions
    .filter((a) => known.has(a.type))
    .map((a) => (a.params === undefined ? { type: a.type } : { type: a.type, params: a.params }) as RunEffect);
}

/** The initial snapshot of a new run (in Initializing) and the effects to perform: notifyState, startMachines. */
export function createRun(input: RunInput): RunStep {
  const [snapshot, actions] = initialTransition(runMachine, input);
  const effects = toEffects(actions);
  return { snapshot, actions: effects.map((e) => e.type), effects };
}

/**
 * Applies one event. `handled` is `snapshot.can(event)`; an unhandled event (stale or not allowed
 * in this state, which the server answers with 409) returns the same snapshot and no actions.
 */
export function applyRunEvent(snapshot: RunSnapshot, event: RunMachineEvent): RunStep & { handled: boolean } {
  if (snapshot.status !== "active" || !snapshot.can(event)) {
    return { snapshot, actions: [], effects: [], handled: false };
  }
  const [next, actions] = transition(runMachine, snapshot, event);
  const effects = toEffects(actions);
  return { snapshot: next, actions: effects.map((e) => e.type), effects, handled: true };
}

/** The run state (the machine's state node name). */
export function runStateOf(snapshot: RunSnapshot): RunState {
  const value = snapshot.value;
  if (typeof value === "string" && (RUN_STATES as readonly string[]).includes(value)) return value as RunState;
  throw new Error(`unexpected run machine state: ${JSON.stringify(value)}`);
}
