import { describe, expect, it } from "vitest";
import type { RunSummary } from "../../protocol/run";
import { foldRunsChanged } from "./run-cache";

const row = (id: string, over: Partial<RunSummary> = {}): RunSummary => ({
  id,
  module: "examples/tutorials/service-testing/system",
  owner: "alice",
  state: "Executing",
  abort: null,
  recoveryMode: false,
  keepRunning: "always",
  scalable: false,
  tags: [],
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
  lastSeq: 10,
  ...over,
});

describe("foldRunsChanged", () => {
  it("applies a newer push to its row and takes its seq, leaving the other rows as they were", () => {
    const runs = [row("a"), row("b")];
    const next = foldRunsChanged(runs, { runId: "a", state: "Ready", abort: "boom", seq: 11 });
    expect(next).not.toBe(runs);
    expect(next?.[0]).toMatchObject({ state: "Ready", abort: "boom", lastSeq: 11 });
    expect(next?.[1]).toBe(runs[1]);
    expect(runs[0].state).toBe("Executing");
  });

  it("skips a push at or below the row's seq: the list already shows it or something newer", () => {
    const runs = [row("a", { state: "Done", lastSeq: 20 })];
    expect(foldRunsChanged(runs, { runId: "a", state: "Ready", abort: null, seq: 19 })).toBe(runs);
    expect(foldRunsChanged(runs, { runId: "a", state: "Finalizing", abort: null, seq: 20 })).toBe(runs);
    expect(runs[0]).toMatchObject({ state: "Done", lastSeq: 20 });
  });

  it("pushes arriving out of order end on the newest", () => {
    let runs = [row("a", { lastSeq: 1 })];
    for (const [state, seq] of [
      ["Ready", 5],
      ["Executing", 3],
      ["Finalizing", 7],
      ["SendingReports", 4],
    ] as const) {
      runs = foldRunsChanged(runs, { runId: "a", state, abort: null, seq }) ?? runs;
    }
    expect(runs[0]).toMatchObject({ state: "Finalizing", lastSeq: 7 });
  });

  it("is null for a run the list does not hold (the caller refetches that list)", () => {
    expect(foldRunsChanged([row("a")], { runId: "z", state: "Ready", abort: null, seq: 1 })).toBeNull();
  });
});
