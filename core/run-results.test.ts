import { describe, expect, it } from "vitest";
import { instanceOutcome, type OutcomeInput } from "./run-results.js";

const base: OutcomeInput = {
  runState: "Done",
  runAbort: null,
  executesFinished: true,
  ownAbort: null,
  machine: "stopped",
  lost: false,
  cameUp: true,
  completedNow: false,
};

describe("an instance's verdict for a CI", () => {
  it("passes once its execute finished (the run got past the Executing barrier)", () => {
    expect(instanceOutcome(base)).toEqual({ outcome: "passed", message: null });
    expect(
      instanceOutcome({ ...base, runState: "Executing", executesFinished: false, completedNow: true }).outcome,
    ).toBe("passed");
  });

  it("fails with its own abort message, whatever else happened", () => {
    expect(instanceOutcome({ ...base, runState: "Aborted", runAbort: "x", ownAbort: "download failed" })).toEqual({
      outcome: "failed",
      message: "download failed",
    });
  });

  it("is an error when its machine failed or its agent was lost", () => {
    expect(instanceOutcome({ ...base, machine: "failed", cameUp: false }).outcome).toBe("error");
    expect(instanceOutcome({ ...base, lost: true }).outcome).toBe("error");
  });

  it("is skipped when another's abort or the run's end stopped it before its recipe finished", () => {
    const aborted = instanceOutcome({
      ...base,
      runState: "Aborted",
      runAbort: "client.1 failed",
      executesFinished: false,
    });
    expect(aborted.outcome).toBe("skipped");
    expect(aborted.message).toContain("client.1 failed");
    expect(instanceOutcome({ ...base, runState: "Cancelled", executesFinished: false }).message).toBe(
      "the run ended Cancelled before its recipe finished",
    );
  });

  it("is running while the run climbs and its recipe has not finished", () => {
    expect(instanceOutcome({ ...base, runState: "Executing", executesFinished: false }).outcome).toBe("running");
  });
});
