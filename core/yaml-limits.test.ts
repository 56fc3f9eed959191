import { describe, expect, it } from "vitest";
import { MAX_YAML_DEPTH, parseModuleYaml } from "./modules.js";

/**
 * Module YAML that used to take the server down: nested thousands deep (building the document recurses per level,
 * and a stack overflow that lands in V8's regexp compiler ends the process; found by the fuzz suite through
 * POST /api/modules/import), or with tens of thousands of keys (the library's duplicate check is quadratic).
 */
function message(text: string): string {
  try {
    parseModuleYaml(text, "deep.yaml");
  } catch (e) {
    return (e as Error).message;
  }
  return "parsed";
}

describe("deeply nested module YAML", () => {
  it.each([
    ["flow sequences", `${"[".repeat(5000)}${"]".repeat(5000)}`],
    ["flow maps", `${"{a: ".repeat(5000)}1${"}".repeat(5000)}`],
    ["compact block sequences", `${"- ".repeat(5000)}x\n`],
    ["indented block maps", Array.from({ length: 200 }, (_, i) => `${" ".repeat(i)}a:`).join("\n")],
    ["a deep value inside a module", `kind: image\ndescription: ${"[".repeat(3000)}\n`],
  ])("%s: refused, naming the place", (_, text) => {
    expect(message(text)).toMatch(
      new RegExp(`^deep\\.yaml: line \\d+, column \\d+: nested more than ${MAX_YAML_DEPTH} levels deep$`),
    );
  });

  it("nesting as deep as the limit is read as usual", () => {
    const ok = `kind: image\ndescription: x\ntargets: {}\nparameters: []\nextra: ${"[".repeat(MAX_YAML_DEPTH - 2)}${"]".repeat(MAX_YAML_DEPTH - 2)}\n`;
    expect(message(ok)).toContain("extra");
  });

  it("duplicate keys are refused at the second one, in block and flow maps, nested or not", () => {
    expect(message("kind: image\ndescription: a\ndescription: b\n")).toBe("deep.yaml: line 3, column 1: duplicate key");
    expect(message("kind: image\ntargets: {execute: a, execute: b}\n")).toBe(
      "deep.yaml: line 2, column 23: duplicate key",
    );
    expect(message("kind: image\nparameters:\n  - {name: a, name: a}\n")).toContain("line 3, column 15: duplicate key");
    // 1 and "1" are different keys, as the library has them
    expect(message('kind: image\nx: {1: a, "1": b}\n')).not.toContain("duplicate");
  });
});
