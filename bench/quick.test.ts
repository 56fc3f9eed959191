import { describe, expect, it } from "vitest";
import { runBench } from "./bench.js";

// Runs every measurement once in quick mode; asserts only that each produced numbers (no timing assertions).
describe("the benchmarks in quick mode", () => {
  it("produce a number for every figure", { timeout: 180_000 }, async () => {
    const report = await runBench({ quick: true });
    const names = report.figures.map((f) => f.figure.split(" ")[0]);
    for (const n of ["1.", "2.", "2a.", "2b.", "3.", "4.", "5.", "5a.", "7."]) expect(names).toContain(n);
    for (const f of report.figures) {
      expect(f.numbers.length, f.figure).toBeGreaterThan(0);
      for (const x of f.numbers) expect(Number.isFinite(x), `${f.figure}: ${x}`).toBe(true);
    }
  });
});
