import { describe, expect, it } from "vitest";
import type { RunEvent, RunSummary } from "../../protocol/run";
import { appendEvents, foldParams, foldRunsChanged } from "./run-cache";

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

  it("skips recounting the logs for a batch without log chunks, and still bounds the next log (default limit)", () => {
    const mb = 1024 * 1024;
    const param = (seq: number): RunEvent => ({
      ...log(seq, "a.1", ""),
      body: { type: "param", key: "a.1:p", value: "v" },
    });
    const first = appendEvents([], [log(1, "a.1", "x".repeat(3 * mb))]);
    const second = appendEvents(first, [param(2)]);
    expect(second.map((e) => e.seq)).toEqual([1, 2]);
    // the first chunk is past the head's half: it goes once the log passes 4 MiB, as from a list never seen before
    const third = appendEvents(second, [log(3, "a.1", "y".repeat(2 * mb))]);
    expect(third.map((e) => e.seq)).toEqual([2, 3]);
    expect(appendEvents([...second], [log(3, "a.1", "y".repeat(2 * mb))]).map((e) => e.seq)).toEqual([2, 3]);
  });

  it("leaves a log under the bound alone", () => {
    const events = appendEvents([log(1, "a.1", "hello")], [log(2, "a.1", "world")], 100);
    expect(events.map((e) => e.seq)).toEqual([1, 2]);
  });
});

describe("foldParams over many batches", () => {
  const set = (seq: number, key: string, value: string): RunEvent => ({
    runId: "r",
    seq,
    at: "2026-01-01T00:00:00.000Z",
    actor: "node:a.1",
    body: { type: "param", key, value },
  });
  const param = (key: string, updatedSeq: number) => ({
    key,
    value: null,
    category: "output" as const,
    description: "",
    updatedSeq,
  });

  it("updates in place and appends new keys; a snapshot folded again from the start is unchanged by later folds", () => {
    const snapshot = { params: [param("a.1:x", 1), param("a.1:y", 2)], lastSeq: 2 };
    const one = foldParams(snapshot, [set(3, "a.1:y", "v3"), set(4, "a.1:new", "n4")]);
    const two = foldParams(one, [set(5, "a.1:new", "n5"), set(6, "a.1:x", "x6"), set(7, "a.1:other", "o7")]);
    expect(two.params.map((p) => [p.key, p.value])).toEqual([
      ["a.1:x", "x6"],
      ["a.1:y", "v3"],
      ["a.1:new", "n5"],
      ["a.1:other", "o7"],
    ]);
    expect(two.lastSeq).toBe(7);
    // the first snapshot's keys still map to its own places: another fold of it sees no "a.1:new" or "a.1:other"
    const again = foldParams(snapshot, [set(8, "a.1:other", "o8"), set(9, "a.1:x", "x9")]);
    expect(again.params.map((p) => [p.key, p.value])).toEqual([
      ["a.1:x", "x9"],
      ["a.1:y", null],
      ["a.1:other", "o8"],
    ]);
    expect(snapshot.params.map((p) => p.value)).toEqual([null, null]);
  });
});
