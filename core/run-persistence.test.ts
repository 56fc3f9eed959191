import { describe, expect, it } from "vitest";
import { applyRunEvent, createRun, runStateOf } from "./run-machine.js";
import {
  migrateRunSnapshot,
  persistRun,
  RUN_MACHINE_VERSION,
  restoreRun,
  storedMachineVersion,
} from "./run-persistence.js";

/** A snapshot as servers stored it before versions (v1): xstate's persisted snapshot, verbatim, no machineVersion. */
const STORED_V1 = {
  status: "active",
  value: "Executing",
  historyValue: {},
  context: {
    instances: {
      "apache.1": { node: "apache", live: true, cameUp: true, completed: true },
      "client.1": { node: "client", live: true, cameUp: true, completed: false },
    },
    keepRunning: "on-success",
    scalable: false,
    abort: null,
    recoveryMode: false,
    kept: false,
    scaling: null,
  },
  children: {},
};

describe("run machine version (run-rules R18)", () => {
  it("R18 persistence: persistRun stamps the current machine version", () => {
    const s = createRun({ instances: [{ name: "a.1", node: "a" }], keepRunning: "never", scalable: false }).snapshot;
    const stored = JSON.parse(JSON.stringify(persistRun(s)));
    expect(stored.machineVersion).toBe(RUN_MACHINE_VERSION);
    expect(storedMachineVersion(stored)).toBe(RUN_MACHINE_VERSION);
    expect(runStateOf(restoreRun(stored))).toBe("Initializing");
  });

  it("R18 persistence: a stored v1 snapshot (no version) is migrated on load and carries on", () => {
    expect(storedMachineVersion(STORED_V1)).toBe(1);
    const migrated = migrateRunSnapshot(STORED_V1);
    expect(migrated.machineVersion).toBe(RUN_MACHINE_VERSION);
    expect(STORED_V1).not.toHaveProperty("machineVersion");
    const s = restoreRun(JSON.parse(JSON.stringify(STORED_V1)));
    expect(runStateOf(s)).toBe("Executing");
    expect(s.context.instances.get("apache.1")!.completed).toBe(true);
    const next = applyRunEvent(s, { type: "instance.completed", instance: "client.1", state: "Executing" });
    expect(next.handled).toBe(true);
    expect(runStateOf(next.snapshot)).toBe("SendingReports");
    expect(persistRun(next.snapshot).machineVersion).toBe(RUN_MACHINE_VERSION);
  });

  it("R18 persistence: a snapshot of a newer machine, or with a malformed version, is refused", () => {
    expect(() => restoreRun({ ...STORED_V1, machineVersion: RUN_MACHINE_VERSION + 1 })).toThrow(
      /newer than this server/,
    );
    expect(() => restoreRun({ ...STORED_V1, machineVersion: "2" })).toThrow();
    expect(() => restoreRun([])).toThrow();
  });
});
