import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { flushDelay, MAX_FLUSH_DELAY, MAX_UNRENDERED_DELAY, MIN_FLUSH_DELAY, renderedAt } from "./flush-pacing";

describe("live batches are paced by the page's own renders", () => {
  it("a page that renders within a frame gets the next batch a frame later", () => {
    expect(flushDelay({ cost: 3, unrendered: null }, 0)).toBe(MIN_FLUSH_DELAY);
  });

  it("a page that took longer than a frame waits as long before the next batch, never more than 250 ms", () => {
    expect(flushDelay({ cost: 120, unrendered: null }, 0)).toBe(120);
    expect(flushDelay({ cost: 4000, unrendered: null }, 0)).toBe(MAX_FLUSH_DELAY);
  });

  it("while the page has not said it rendered the last batch, the next one waits for it, at most a second", () => {
    expect(flushDelay({ cost: 10, unrendered: 1000 }, 1200)).toBe(800);
    expect(flushDelay({ cost: 10, unrendered: 1000 }, 1000 + MAX_UNRENDERED_DELAY + 50)).toBe(MIN_FLUSH_DELAY);
  });

  it("once rendered, what the render took paces the next batch", () => {
    const p = renderedAt({ cost: 0, unrendered: 500 }, 680);
    expect(p).toEqual({ cost: 180, unrendered: null });
    expect(flushDelay(p, 700)).toBe(180);
    const none = { cost: 7, unrendered: null };
    expect(renderedAt(none, 900)).toBe(none);
  });

  it("a batch begun at a clock reading that does not add up exactly still waits at most a second", () => {
    // found by the property below (seed 1799309666): 46.20764627404503 + 1000 - 46.20764627404503 is 1000.0000000000001
    const unrendered = 46.20764627404503;
    expect(flushDelay({ cost: 0, unrendered }, unrendered)).toBe(MAX_UNRENDERED_DELAY);
  });

  it("whatever the timings, a batch waits at least a frame and at most a second", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        fc.option(fc.double({ min: 0, max: 1e6, noNaN: true })),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        (cost, unrendered, later) => {
          const now = (unrendered ?? 0) + later;
          const d = flushDelay({ cost, unrendered }, now);
          expect(d).toBeGreaterThanOrEqual(MIN_FLUSH_DELAY);
          expect(d).toBeLessThanOrEqual(MAX_UNRENDERED_DELAY);
        },
      ),
    );
  });
});
