import { describe, expect, it } from "vitest";
import { buildRunBody } from "./run-options.js";

const M = "examples/tutorials/service-testing/system";

/** `slipstream run --kept-max HOURS`: the per-run limit of a kept run (protocol/kept.ts), checked before sending. */
describe("run --kept-max", () => {
  it("passes fractional hours through", () => {
    expect(buildRunBody(M, { keptMax: "0.5" }).keptMaxHours).toBe(0.5);
    expect(buildRunBody(M, { keptMax: "48" }).keptMaxHours).toBe(48);
    expect(buildRunBody(M, {}).keptMaxHours).toBeUndefined();
  });

  it("refuses what the server would, naming the option", () => {
    expect(() => buildRunBody(M, { keptMax: "0" })).toThrow(/--kept-max: must be at least/);
    expect(() => buildRunBody(M, { keptMax: "721" })).toThrow(/--kept-max: must be at most 720/);
    expect(() => buildRunBody(M, { keptMax: "soon" })).toThrow(/--kept-max: /);
  });
});
