import { describe, expect, it } from "vitest";
import { buildRunBody } from "./run-options.js";
import { parseScaleArgs } from "./scale-args.js";

const M = "examples/tutorials/service-testing/system";

describe("run options", () => {
  it("collects repeated options into the CreateRunBody", () => {
    expect(
      buildRunBody(M, {
        multiplicity: ["client=5", "apache=1"],
        param: ["client:webserver.port=80=80"],
        cloud: ["apache=local"],
        tags: ["a,b", "c"],
        scalable: true,
        timeout: "30",
      }),
    ).toEqual({
      module: M,
      multiplicity: { client: 5, apache: 1 },
      params: { "client:webserver.port": "80=80" },
      clouds: { apache: "local" },
      tags: ["a", "b", "c"],
      scalable: true,
      timeoutMinutes: 30,
    });
  });

  it("keep-running: the profile's (absent) unless given, --wait or not", () => {
    expect(buildRunBody(M, { wait: true }).keepRunning).toBeUndefined();
    expect(buildRunBody(M, { wait: true, keepRunning: "on-error" }).keepRunning).toBe("on-error");
    expect(buildRunBody(M, {}).keepRunning).toBeUndefined();
  });

  it("R19 --lost-after: the run's grace for an unresponsive agent, in whole seconds, at least 1", () => {
    expect(buildRunBody(M, { lostAfter: "2" }).lostAfterSeconds).toBe(2);
    expect(buildRunBody(M, {}).lostAfterSeconds).toBeUndefined();
    expect(() => buildRunBody(M, { lostAfter: "0" })).toThrow("--lost-after: '0' must be at least 1 second");
    expect(() => buildRunBody(M, { lostAfter: "1.5" })).toThrow(
      "--lost-after: '1.5' must be a whole number of seconds",
    );
  });

  it("errors name the option and the argument", () => {
    expect(() => buildRunBody(M, { multiplicity: ["client=x"] })).toThrow("--multiplicity: 'client=x' must be node=N");
    expect(() => buildRunBody(M, { multiplicity: ["1client=2"] })).toThrow(
      /--multiplicity: '1client=2' must be node=N \(1client: /,
    );
    expect(() => buildRunBody(M, { multiplicity: ["client=1", "client=2"] })).toThrow(
      "--multiplicity: 'client' is given twice",
    );
    expect(() => buildRunBody(M, { param: ["client:x y=1"] })).toThrow(
      /--param: 'client:x y=1' must be node:name=value/,
    );
    expect(() => buildRunBody(M, { param: [`client:x=${"v".repeat(5000)}`] })).toThrow(
      /must be at most 4096 characters/,
    );
    expect(() => buildRunBody(M, { tags: [`${"t".repeat(65)}`] })).toThrow(/^--tags '0': /);
  });
});

describe("scale arguments", () => {
  it("+N adds, -ID… removes", () => {
    expect(parseScaleArgs("client", ["+2"])).toEqual({ node: "client", add: 2 });
    expect(parseScaleArgs("client", ["-3", "-4", "-3"])).toEqual({ node: "client", remove: [3, 4] });
  });
  it("anything else is a usage error", () => {
    for (const bad of [["x"], ["3"], ["+0"], ["-0"], ["+1", "+2"], ["+1", "-2"], [], ["+1001"]]) {
      expect(() => parseScaleArgs("client", bad)).toThrow(/^scale: /);
    }
    expect(() => parseScaleArgs("bad node", ["+1"])).toThrow(/^NODE: /);
  });
});
