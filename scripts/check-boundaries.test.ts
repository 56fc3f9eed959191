import { describe, expect, it } from "vitest";
import { checkRepo, checkSource, importsOf, isProduction } from "./check-boundaries.js";

const rules = (file: string, text: string) => checkSource(file, text).map((v) => `${v.line} ${v.rule}`);

describe("the dependency rule", () => {
  it("holds for every production import of the repository", () => {
    expect(checkRepo().map((v) => v.message)).toEqual([]);
  });

  it("catches a planted violation and names file, line and rule", () => {
    const planted = `import { z } from "zod";\n\nimport { startServer } from "../server/app.js";\n`;
    const [v, ...more] = checkSource("core/planted.ts", planted);
    expect(more).toEqual([]);
    expect(v).toMatchObject({ file: "core/planted.ts", line: 3, rule: "core-imports-outer" });
    expect(v.message).toMatch(/^core\/planted\.ts:3: core-imports-outer: /);
  });

  it("protocol imports nothing of ours outside protocol, with or without an extension", () => {
    expect(rules("protocol/x.ts", `import { a } from "./run";\nimport type { B } from "../core/run-machine";`)).toEqual(
      ["2 protocol-imports-ours"],
    );
  });

  it("protocol files import each other without an extension (the app's bundler resolves only that)", () => {
    expect(rules("protocol/catalog/x.ts", `import { a } from "../run.js";\nimport { b } from "../run";`)).toEqual([
      "1 protocol-import-extension",
    ]);
  });

  it("agent and cli import protocol only; app takes core's types but not its code", () => {
    expect(
      rules("agent/x.ts", `import { a } from "../server/app.js";\nimport { p } from "../protocol/run.js";`),
    ).toEqual(["1 client-imports-server-or-core"]);
    expect(rules("cli/commands/x.ts", `export { b } from "../../core/modules.js";`)).toEqual([
      "1 client-imports-server-or-core",
    ]);
    const app = [
      `import type { RunSnapshot } from "@/core/run-machine";`,
      `import { type A, type B } from "@/core/modules";`,
      `import { parseMapping } from "@/core/modules";`,
      `const m = await import("../../server/app");`,
      `import { RUN_STATES } from "@/protocol/run";`,
    ].join("\n");
    expect(rules("app/runs/x.tsx", app)).toEqual([
      "3 client-imports-server-or-core",
      "4 client-imports-server-or-core",
    ]);
  });

  it("server does not import the agent, the CLI or the app", () => {
    expect(rules("server/x.ts", `import { readConfig } from "../agent/config.js";`)).toEqual([
      "1 server-imports-client",
    ]);
  });

  it("production code imports no tests, test support, benchmarks, e2e or scripts", () => {
    const text = [
      `import { buildAgentBundle } from "../scripts/build-agent.js";`,
      `import { startTestServer } from "./testing/harness.js";`,
      `import { x } from "./runs/service.test.js";`,
      `import { y } from "../bench/lib.js";`,
      `import { z } from "../e2e/chromium.js";`,
      `import { ok } from "./runs/service.js";`,
    ].join("\n");
    expect(rules("server/app.ts", text)).toEqual(
      [1, 2, 3, 4, 5].map((l) => `${l} production-imports-tests-or-tooling`),
    );
  });

  it("reads imports from code only, not from strings or comments, and ignores packages", () => {
    const text = [
      `// import { a } from "../server/app.js";`,
      'const s = `import { b } from "../server/app.js"`;',
      `import pino from "pino";`,
      `import "./side-effect.js";`,
      `const c = require("./c.js");`,
    ].join("\n");
    expect(importsOf("core/x.ts", text).map((i) => `${i.line} ${i.specifier}`)).toEqual([
      "3 pino",
      "4 ./side-effect.js",
      "5 ./c.js",
    ]);
  });

  it("tests, test support and tooling are not production code", () => {
    expect(isProduction("server/runs/service.ts")).toBe(true);
    expect(isProduction("server/runs/service.test.ts")).toBe(false);
    expect(isProduction("server/testing/harness.ts")).toBe(false);
    expect(isProduction("bench/run.ts")).toBe(false);
    expect(isProduction("scripts/build-agent.ts")).toBe(false);
  });
});
