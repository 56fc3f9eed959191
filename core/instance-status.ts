/**
 * An instance's status beside the run machine (run-rules I1–I2): two small declared machines, written as pure
 * transition tables rather than xstate machines. Neither has context, guards that read other instances, or effects
 * of its own: each is a status value stored per instance (or derived from stored facts), and the server asks "may
 * this happen, and what does it become?" before it writes. A table says that in a dozen lines that tests can
 * enumerate; an xstate machine would add snapshots to persist per instance and nothing to check.
 *
 * - **I1 Machine status** (`instances.status`): what the server did with the instance's machine.
 * - **I2 Liveness** (`InstanceSummary.liveness`, R19/S4): its agent's connection.
 */
import type { InstanceSummary, RunState } from "../protocol/run.js";
import { isTerminal, WATCHED_STATES } from "./run-states.js";

// ---- I1 machine status ------------------------------------------------------------------------------------------

export const MACHINE_STATUSES = ["pending", "starting", "running", "stopping", "stopped", "failed"] as const;
export type MachineStatus = (typeof MACHINE_STATUSES)[number];
/** start: the server asks the cloud (again, after a restart); started/startFailed: its answer; stop, stopped alike */
export type MachineEvent = "start" | "started" | "startFailed" | "stop" | "stopped";

/**
 * I1. pending → starting → running → stopping → stopped; a start that fails → failed. A start is retried from
 * starting (a restart while the cloud was asked); a stop is retried from stopping (it failed, or a restart); a
 * machine whose start failed, or whose start is in doubt, may still be stopped. stopped is final.
 */
export const MACHINE_TRANSITIONS: Readonly<Record<MachineStatus, Partial<Record<MachineEvent, MachineStatus>>>> = {
  pending: { start: "starting" },
  starting: { start: "starting", started: "running", startFailed: "failed", stop: "stopping" },
  running: { stop: "stopping" },
  stopping: { stop: "stopping", stopped: "stopped" },
  stopped: {},
  failed: { stop: "stopping" },
};

/** The status after `event`, or null when I1 does not allow it from `from`. */
export function machineAfter(from: MachineStatus, event: MachineEvent): MachineStatus | null {
  return MACHINE_TRANSITIONS[from][event] ?? null;
}

/** The machine is being stopped, is stopped, or never started: its agent is not expected any more. */
function machineGone(status: MachineStatus): boolean {
  return status === "stopping" || status === "stopped" || status === "failed";
}

// ---- I2 liveness --------------------------------------------------------------------------------------------------

export type Liveness = InstanceSummary["liveness"];
/**
 * connect: its agent connected; drop: its connection dropped; graceOver: the run's grace passed with it away;
 * neverConnected: the grace passed since its machine started and its agent never connected
 */
export type LivenessEvent = "connect" | "drop" | "graceOver" | "neverConnected";

/** What liveness is derived from: the run machine's context and state, the stored instance row, the agent link. */
export interface InstanceFacts {
  runState: RunState;
  /** not removed by a scale, not failed, not lost (the run machine's `live`) */
  live: boolean;
  cameUp: boolean;
  machine: MachineStatus;
  /** declared lost (R19): an `instance` event `lost` was recorded */
  lost: boolean;
  /** its agent has a connection now */
  connected: boolean;
  /** a drop was recorded (instances.unresponsive_since) or a grace is counted for it, and no `back` yet */
  away: boolean;
}

/**
 * I2 derived: lost once declared lost; ended when the run is over, the instance left the run or its machine is
 * gone; else connected while its agent is; unresponsive when away, or when it came up and is not connected (after a
 * restart every agent is away until it reconnects); waiting before its agent first connected.
 */
export function livenessOf(f: InstanceFacts): Liveness {
  if (f.lost && !f.live) return "lost";
  if (isTerminal(f.runState) || !f.live || machineGone(f.machine)) return "ended";
  if (f.connected) return "connected";
  return f.away || f.cameUp ? "unresponsive" : "waiting";
}

/** S4: an agent going away is watched (a grace counted) between Initializing and Ready, for a live instance that came up and whose machine is not being stopped. */
export function livenessWatched(f: InstanceFacts): boolean {
  return WATCHED_STATES.includes(f.runState) && f.live && f.cameUp && !machineGone(f.machine);
}

/**
 * S4b: an instance whose machine started but whose agent has not connected yet is awaited for the same grace, from
 * the start (an agent killed or crashed before its first connect must not leave the run waiting for its timeout).
 */
export function firstConnectAwaited(f: InstanceFacts): boolean {
  return WATCHED_STATES.includes(f.runState) && f.live && !f.cameUp && !f.connected && f.machine === "running";
}

/**
 * I2 transitions: waiting → connected, or → lost when its agent never connected within the grace after its machine
 * started (S4b); connected → unresponsive on a watched drop; unresponsive → connected (back) or → lost when the grace
 * is over and it is still watched. lost and ended are final: a lost agent that answers again stays lost (the run
 * moved on without it).
 */
export const LIVENESS_TRANSITIONS: Readonly<Record<Liveness, Partial<Record<LivenessEvent, Liveness>>>> = {
  waiting: { connect: "connected", neverConnected: "lost" },
  connected: { drop: "unresponsive" },
  unresponsive: { connect: "connected", graceOver: "lost" },
  lost: {},
  ended: {},
};

/**
 * What an event does to an instance whose facts are `before` (as they were before it): the new liveness, and
 * whether the server records it (an `instance` event unresponsive, back or lost), or null when it changes nothing.
 * drop and graceOver need the instance watched; a connect is recorded as `back` only when it was away.
 */
export function livenessStep(before: InstanceFacts, event: LivenessEvent): { to: Liveness; record: boolean } | null {
  const from = livenessOf(before);
  const to = LIVENESS_TRANSITIONS[from][event];
  if (!to) return null;
  if ((event === "drop" || event === "graceOver") && !livenessWatched(before)) return null;
  if (event === "neverConnected" && !firstConnectAwaited(before)) return null;
  return { to, record: event !== "connect" || before.away };
}
