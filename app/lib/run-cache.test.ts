import { describe, expect, it } from "vitest";
import type { RunEvent, RunSummary } from "../../protocol/run";
import { appendEvents, foldRunsChanged } from "./run-cache";

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

describe("a tab watching a flooding run", () => {
  const log = (seq: number, instance: string, data: string): RunEvent => ({
    runId: "r",
    seq,
    at: "2026-01-01T00:00:00.000Z",
    actor: `node:${instance}`,
    body: { type: "log", instance, target: "execute", stream: "stdout", data },
  });

  it("keeps each instance's log head and newest chunks within the bound, and every other event", () => {
    let events: RunEvent[] = [];
    for (let seq = 1; seq <= 100; seq++) {
      const batch = [
        log(seq * 2, "a.1", "x".repeat(10)),
        { ...log(seq * 2 + 1, "b.1", "y"), body: { type: "terminate" as const } },
      ];
      events = appendEvents(events, batch, 100);
    }
    const a = events.filter((e) => e.body.type === "log").map((e) => e.seq);
    expect(a.slice(0, 5)).toEqual([2, 4, 6, 8, 10]);
    expect(a.at(-1)).toBe(200);
    expect(a.length).toBeLessThanOrEqual(10);
    expect(events.filter((e) => e.body.type === "terminate")).toHaveLength(100);
  });

  it("leaves a log under the bound alone", () => {
    const events = appendEvents([log(1, "a.1", "hello")], [log(2, "a.1", "world")], 100);
    expect(events.map((e) => e.seq)).toEqual([1, 2]);
  });
});
