import { describe, expect, it } from "vitest";
import { abortNumberAt } from "./abort-receipts.js";

const abort = (seq: number) => ({ seq, type: "abort" as const });
const reset = (seq: number) => ({ seq, type: "abort-reset" as const });

describe("which abort a seq falls in", () => {
  const marks = [abort(5), abort(6), reset(9), abort(12)];

  it("counts one more abort after each reset", () => {
    expect(abortNumberAt(marks, 5, true)).toBe(1);
    expect(abortNumberAt(marks, 8, true)).toBe(1);
    expect(abortNumberAt(marks, 12, true)).toBe(2);
    expect(abortNumberAt(marks, 40, true)).toBe(2);
  });

  it("is null before the first abort and between a reset and the next abort", () => {
    expect(abortNumberAt(marks, 4, true)).toBeNull();
    expect(abortNumberAt(marks, 9, true)).toBeNull();
    expect(abortNumberAt(marks, 11, true)).toBeNull();
  });

  it("a timeout's abort has no abort event: the current episode counts while the run is aborted", () => {
    expect(abortNumberAt([abort(3), reset(4)], 7, true)).toBe(2);
    expect(abortNumberAt([abort(3), reset(4)], 7, false)).toBeNull();
    expect(abortNumberAt([], 2, true)).toBe(1);
  });
});
