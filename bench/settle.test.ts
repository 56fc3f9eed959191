import { afterEach, describe, expect, it } from "vitest";
import { settle, settledLog, settling } from "./lib.js";

describe("settle: a full run's wait for a quiet machine before each figure", () => {
  afterEach(() => {
    settling(false);
    settledLog.length = 0;
  });

  it("does not wait at all unless settling is on (quick runs, in npm test)", async () => {
    const t0 = performance.now();
    await settle("off", 5_000, -1);
    expect(performance.now() - t0).toBeLessThan(400);
    expect(settledLog).toEqual([]);
  });

  it("returns after two quiet windows in a row and notes the wait", async () => {
    settling(true);
    // every window is under a threshold above 100 %
    await settle("quiet", 10_000, 1.01);
    expect(settledLog).toHaveLength(1);
    expect(settledLog[0]).toMatchObject({ before: "quiet", quiet: true });
    expect(settledLog[0].waitedMs).toBeGreaterThanOrEqual(990);
    expect(settledLog[0].waitedMs).toBeLessThan(5_000);
  });

  it("gives up at its deadline on a machine that never rests, and says it was busy", async () => {
    settling(true);
    // no window is under a negative threshold
    await settle("busy", 1_200, -1);
    expect(settledLog).toHaveLength(1);
    expect(settledLog[0]).toMatchObject({ before: "busy", quiet: false });
    expect(settledLog[0].waitedMs).toBeGreaterThanOrEqual(1_200);
    expect(settledLog[0].busy).toBeGreaterThanOrEqual(0);
    expect(settledLog[0].busy).toBeLessThanOrEqual(1);
  });
});
