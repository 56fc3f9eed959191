import { describe, expect, it } from "vitest";
import { addLogChunk, emptyLogBudget, type LogChunkRef, rebuildLogBudget } from "./log-budget.js";

const feed = (sizes: number[], limit: number) => {
  const state = emptyLogBudget();
  const kept = new Map<number, number>();
  sizes.forEach((bytes, i) => {
    const seq = i + 1;
    kept.set(seq, bytes);
    for (const d of addLogChunk(state, { seq, bytes }, limit)) kept.delete(d.seq);
  });
  return { state, kept };
};

describe("log budget", () => {
  it("keeps a log under half the limit whole", () => {
    const { state, kept } = feed([10, 10, 10], 100);
    expect([...kept.keys()]).toEqual([1, 2, 3]);
    expect(state).toMatchObject({ headBytes: 30, tailStarted: false, dropped: 0 });
  });

  it("keeps the head, then the newest tail within the other half, and counts what it dropped", () => {
    const { state, kept } = feed(Array(20).fill(10), 100);
    // head: 5 chunks (50 bytes); tail: the last 5; 10 chunks dropped between
    expect([...kept.keys()]).toEqual([1, 2, 3, 4, 5, 16, 17, 18, 19, 20]);
    expect(state.dropped).toBe(100);
    expect(state.headEndSeq).toBe(5);
    expect(state.headBytes + state.tailBytes).toBeLessThanOrEqual(100);
  });

  it("closes the head at the first chunk that does not fit: a later small chunk goes to the tail", () => {
    const { state } = feed([40, 20, 1], 100);
    expect(state.headBytes).toBe(40);
    expect(state.tail.map((c) => c.seq)).toEqual([2, 3]);
  });

  it("always keeps the newest chunk, even one larger than the tail's half", () => {
    const { kept, state } = feed([50, 10, 80], 100);
    expect([...kept.keys()]).toEqual([1, 3]);
    expect(state.dropped).toBe(10);
  });

  it("rebuilds the same split from what is stored, before and after drops", () => {
    for (const sizes of [[10, 10, 10], Array(20).fill(10), [40, 20, 1, 5, 60, 3], [30, 30, 1, 1, 1, 1, 1]]) {
      const { state, kept } = feed(sizes, 100);
      const stored: LogChunkRef[] = [...kept].map(([seq, bytes]) => ({ seq, bytes }));
      const dropped = state.dropped ? { bytes: state.dropped, headEndSeq: state.headEndSeq } : null;
      expect(rebuildLogBudget(stored, dropped, 100)).toEqual(state);
    }
  });
});
