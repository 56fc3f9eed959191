import { describe, expect, it } from "vitest";
import { RUN_STATES } from "../protocol/run.js";
import {
  firstConnectAwaited,
  type InstanceFacts,
  LIVENESS_TRANSITIONS,
  type Liveness,
  type LivenessEvent,
  livenessOf,
  livenessStep,
  livenessWatched,
  MACHINE_STATUSES,
  MACHINE_TRANSITIONS,
  type MachineEvent,
  type MachineStatus,
  machineAfter,
} from "./instance-status.js";

const MACHINE_EVENTS: MachineEvent[] = ["start", "started", "startFailed", "stop", "stopped"];

/** Applies events that must all be declared; returns the last status. */
function walk(from: MachineStatus, ...events: MachineEvent[]): MachineStatus {
  let cur = from;
  for (const e of events) {
    const next = machineAfter(cur, e);
    expect(next, `${e} from ${cur}`).not.toBeNull();
    cur = next!;
  }
  return cur;
}

describe("instance machine status (run-rules I1)", () => {
  it("I1 machine status: pending → starting → running → stopping → stopped", () => {
    expect(walk("pending", "start", "started", "stop", "stopped")).toBe("stopped");
  });

  it("I1 machine status: a failed start ends failed, and a machine whose start failed may still be stopped", () => {
    expect(walk("pending", "start", "startFailed")).toBe("failed");
    expect(walk("failed", "stop", "stopped")).toBe("stopped");
  });

  it("I1 machine status: a start is retried from starting, a stop from stopping (a restart, a failed stop)", () => {
    expect(machineAfter("starting", "start")).toBe("starting");
    expect(machineAfter("stopping", "stop")).toBe("stopping");
  });

  it("I1 machine status: stopped is final; a running machine is not started again; nothing is stopped twice", () => {
    for (const e of MACHINE_EVENTS) expect(machineAfter("stopped", e)).toBeNull();
    expect(machineAfter("running", "start")).toBeNull();
    expect(machineAfter("running", "stopped")).toBeNull();
    expect(machineAfter("pending", "stop")).toBeNull();
    expect(machineAfter("pending", "started")).toBeNull();
  });

  it("I1 machine status: every status is reachable from pending, and stopped from every status but pending", () => {
    const reached = new Set<MachineStatus>(["pending"]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const s of [...reached])
        for (const next of Object.values(MACHINE_TRANSITIONS[s]))
          if (!reached.has(next)) {
            reached.add(next);
            grew = true;
          }
    }
    expect([...reached].sort()).toEqual([...MACHINE_STATUSES].sort());
    for (const s of MACHINE_STATUSES.filter((x) => x !== "pending" && x !== "stopped")) {
      expect(walk(s, ...(s === "starting" ? (["started"] as const) : []), "stop", "stopped")).toBe("stopped");
    }
  });
});

const FACTS: InstanceFacts = {
  runState: "Executing",
  live: true,
  cameUp: true,
  machine: "running",
  lost: false,
  connected: true,
  away: false,
};

describe("instance liveness (run-rules I2, R19, S4)", () => {
  it("I2 liveness derived: waiting before its agent connected, connected, unresponsive while away", () => {
    expect(livenessOf({ ...FACTS, cameUp: false, connected: false })).toBe("waiting");
    expect(livenessOf(FACTS)).toBe("connected");
    expect(livenessOf({ ...FACTS, connected: false, away: true })).toBe("unresponsive");
    // after a restart every agent that had come up is away until it reconnects
    expect(livenessOf({ ...FACTS, connected: false })).toBe("unresponsive");
  });

  it("I2 liveness derived: lost once declared lost; ended when the run, the instance or its machine is over", () => {
    expect(livenessOf({ ...FACTS, lost: true, live: false, connected: false })).toBe("lost");
    expect(livenessOf({ ...FACTS, runState: "Done" })).toBe("ended");
    expect(livenessOf({ ...FACTS, live: false })).toBe("ended");
    for (const machine of ["stopping", "stopped", "failed"] as const)
      expect(livenessOf({ ...FACTS, machine })).toBe("ended");
  });

  it("I2 transitions: a watched drop makes it unresponsive; back when it reconnects; lost when the grace is over", () => {
    const dropped = livenessStep(FACTS, "drop");
    expect(dropped).toEqual({ to: "unresponsive", record: true });
    const away = { ...FACTS, connected: false, away: true };
    expect(livenessStep(away, "connect")).toEqual({ to: "connected", record: true });
    expect(livenessStep(away, "graceOver")).toEqual({ to: "lost", record: true });
  });

  it("I2 transitions: a first connect is not a comeback; a reconnect with no drop recorded records nothing", () => {
    expect(livenessStep({ ...FACTS, cameUp: false, connected: false }, "connect")).toEqual({
      to: "connected",
      record: false,
    });
    expect(livenessStep({ ...FACTS, connected: false }, "connect")).toEqual({ to: "connected", record: false });
  });

  it("S4 watched: a drop counts only from Initializing to Ready, for a live instance that came up, machine not stopping", () => {
    for (const runState of RUN_STATES) {
      const watched = ["Initializing", "Provisioning", "Executing", "SendingReports", "Ready"].includes(runState);
      expect(livenessWatched({ ...FACTS, runState }), runState).toBe(watched);
      expect(livenessStep({ ...FACTS, runState }, "drop") !== null, runState).toBe(watched);
    }
    expect(livenessStep({ ...FACTS, cameUp: false }, "drop")).toBeNull();
    expect(livenessStep({ ...FACTS, machine: "stopping" }, "drop")).toBeNull();
    expect(livenessStep({ ...FACTS, connected: false, away: true, runState: "Finalizing" }, "graceOver")).toBeNull();
  });

  it("S4b first connect: a started machine whose agent never connected is lost when the grace is over", () => {
    const never: InstanceFacts = { ...FACTS, cameUp: false, connected: false, away: false, machine: "running" };
    expect(livenessOf(never)).toBe("waiting");
    expect(firstConnectAwaited(never)).toBe(true);
    expect(livenessStep(never, "neverConnected")).toEqual({ to: "lost", record: true });
    // not while its machine is still being started, nor once its agent connected or the run is over
    expect(livenessStep({ ...never, machine: "starting" }, "neverConnected")).toBeNull();
    expect(livenessStep({ ...never, connected: true }, "neverConnected")).toBeNull();
    expect(livenessStep({ ...never, runState: "Finalizing" }, "neverConnected")).toBeNull();
    // an agent that did come up and went away is S4's, not this
    expect(livenessStep({ ...FACTS, connected: false, away: true }, "neverConnected")).toBeNull();
  });

  it("I2 transitions: lost and ended are final (a lost agent that answers again stays lost)", () => {
    const events: LivenessEvent[] = ["connect", "drop", "graceOver", "neverConnected"];
    for (const e of events) {
      expect(livenessStep({ ...FACTS, lost: true, live: false, connected: false, away: true }, e)).toBeNull();
      expect(livenessStep({ ...FACTS, runState: "Aborted" }, e)).toBeNull();
    }
    for (const final of ["lost", "ended"] as Liveness[]) expect(LIVENESS_TRANSITIONS[final]).toEqual({});
  });
});
