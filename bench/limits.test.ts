import { describe, expect, it } from "vitest";
import { limitsBenchmark } from "./limits.js";
import { limitsSectionOf, renderLimitsSection, withLimitsSection } from "./limits-results.js";

// The limits benchmark in quick mode (runs of 10–20 simulated agents): every step produces its numbers and the
// RESULTS.md section replaces itself. No timing is asserted: the real sizes run only with `npm run bench -- --limits`.
describe("the limits benchmark in quick mode", () => {
  it("measures each step and writes its section of RESULTS.md", { timeout: 120_000 }, async () => {
    const r = await limitsBenchmark({ quick: true, log: () => {} });
    const steps = [...r.largestRun, ...r.concurrentRuns];
    expect(r.largestRun.length).toBeGreaterThan(0);
    expect(r.concurrentRuns.length).toBeGreaterThan(0);
    for (const s of steps) {
      const label = `${s.runs} × ${s.instancesPerRun}`;
      expect(s.wake.n, label).toBe(30);
      for (const x of [s.wake.median, s.wake.p99, s.page.median, s.serverCpuPct, s.serverRssMb, s.setupS])
        expect(Number.isFinite(x) && x > 0, `${label}: ${x}`).toBe(true);
      // the backlog the page read holds at least every instance's writes of the step
      expect(s.pageEvents, label).toBeGreaterThan(s.instancesPerRun);
      expect(s.writesPerSecond, label).toBeGreaterThan(0);
      expect(s.writeErrors, label).toBe(0);
      expect(s.met, label).toBe(s.failed === null);
    }

    const section = renderLimitsSection(r);
    const before = "# SlipStream benchmarks\n\n| a | b |\n\n## How each figure is measured\n\n1. …\n";
    const once = withLimitsSection(before, section);
    expect(once.indexOf(section)).toBeLessThan(once.indexOf("## How each figure is measured"));
    expect(withLimitsSection(once, section)).toBe(once);
    expect(limitsSectionOf(once)).toBe(section);
    // a full bench rewrites the file: the section carried over is the same
    expect(withLimitsSection(before, limitsSectionOf(once)!)).toBe(once);
  });
});
