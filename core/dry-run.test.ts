import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import type { ImageModule } from "../protocol/modules.js";
import { analyzeRecipes, type CheckedNode } from "./dry-run.js";
import { parseModuleYaml, resolveImageRef } from "./modules.js";
import { scanScript } from "./ss-script-scan.js";

const node = (
  name: string,
  targets: ImageModule["targets"],
  parameters: ImageModule["parameters"] = [],
  mappings: Record<string, string> = {},
): CheckedNode => ({ name, imagePath: `p/${name}`, image: { parameters, targets }, multiplicity: 1, mappings });

const errors = (f: ReturnType<typeof analyzeRecipes>) => f.filter((x) => x.severity === "error");

describe("scanScript reads ss-* commands as the shell would see them", () => {
  it("quotes, options, substitutions, comments and continuations", () => {
    const invs = scanScript(
      [
        "#!/bin/sh",
        "# ss-get commented:out",
        'host="$(ss-get --timeout 30 apache:hostname)"',
        "ss-set 'ready' \"yes $host\"",
        "port=`ss-get --noblock server.port` || true",
        'ss-get "$NODE:x"',
        "ss-set \\",
        "  done true; ss-display 'working'",
        "echo 'ss-get not:a-command'",
      ].join("\n"),
    );
    expect(invs.map((i) => [i.command, i.line, i.key?.text ?? null, i.key?.literal ?? null])).toEqual([
      ["ss-get", 3, "apache:hostname", true],
      ["ss-set", 4, "ready", true],
      ["ss-get", 5, "server.port", true],
      ["ss-get", 6, "$NODE:x", false],
      ["ss-set", 7, "done", true],
      // a line continued with `\` counts as the line it starts on
      ["ss-display", 7, null, null],
    ]);
    expect(invs[0].timeout).toBe(true);
    expect(invs[2].noblock).toBe(true);
  });
});

describe("analyzeRecipes", () => {
  it("a misspelt key is an error naming node, target, line and key, with a suggestion", () => {
    const apache = node("apache", { execute: "ss-set ready true\n" }, [{ name: "ready", category: "output" }]);
    const client = node("client", { execute: "echo hi\nss-get apache:raedy\n" });
    const f = analyzeRecipes([apache, client]);
    expect(errors(f)).toEqual([
      {
        severity: "error",
        node: "client",
        target: "execute",
        line: 2,
        key: "apache:raedy",
        message: expect.stringMatching(
          /node 'apache' \(p\/apache\) has no parameter 'raedy' \(did you mean 'ready'\?\)/,
        ),
      },
    ]);
  });

  it("a misspelt node and a global key are found too", () => {
    const f = analyzeRecipes([node("apache", { execute: "ss-get apahce:hostname\nss-get ss:tagz\nss-get ss:tags\n" })]);
    expect(errors(f).map((x) => [x.line, x.message])).toEqual([
      [1, expect.stringContaining("no node 'apahce' in this run (did you mean 'apache'?)")],
      [2, expect.stringContaining("no run parameter 'ss:tagz' (did you mean 'tags'?)")],
    ]);
  });

  it("two nodes waiting for each other before setting what the other waits for: a cycle", () => {
    const a = node("a", { execute: "ss-get b:x\nss-set y 1\n" }, [{ name: "y", category: "output" }]);
    const b = node("b", { "post-install": "ss-get a:y\n", execute: "ss-set x 1\n" }, [
      { name: "x", category: "output" },
    ]);
    const f = errors(analyzeRecipes([a, b]));
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ node: "a", target: "execute", line: 1, key: "b:x" });
    expect(f[0].message).toMatch(
      /static wait cycle between a and b: a waits for b:x \(execute line 1\) before it sets a:y/,
    );
    expect(f[0].message).toMatch(/b waits for a:y \(post-install line 1\) before it sets b:x \(execute line 1\)/);
  });

  it("the same two nodes setting first and waiting after: no cycle", () => {
    const a = node("a", { execute: "ss-set y 1\nss-get b:x\n" }, [{ name: "y", category: "output" }]);
    const b = node("b", { execute: "ss-get a:y\nss-set x 1\n" }, [{ name: "x", category: "output" }]);
    expect(analyzeRecipes([a, b])).toEqual([]);
  });

  it("mapped inputs, defaults, cloud-set built-ins and --noblock are fine", () => {
    const apache = node("apache", { execute: "ss-set port 80\n" }, [{ name: "port", category: "output" }]);
    const client = node(
      "client",
      {
        execute:
          "ss-get webserver.port\nss-get webserver.hostname\nss-get mode\nss-get hostname\nss-get --noblock later\n",
      },
      [
        { name: "webserver.port", category: "input" },
        { name: "webserver.hostname", category: "input" },
        { name: "mode", category: "input", default: "fast" },
        { name: "later", category: "output" },
      ],
      { "webserver.port": "apache:port", "webserver.hostname": "apache:hostname" },
    );
    expect(analyzeRecipes([apache, client])).toEqual([]);
  });

  it("an output nobody sets is an error; keys built from variables are info, never errors", () => {
    const a = node("a", { execute: "ss-get result\n" }, [{ name: "result", category: "output" }]);
    expect(errors(analyzeRecipes([a]))[0].message).toMatch(/nothing ever sets 'a:result'/);
    const b = node("b", { execute: 'ss-get result\nss-set "$NAME" 1\n' }, [{ name: "result", category: "output" }]);
    const f = analyzeRecipes([b]);
    expect(errors(f)).toEqual([]);
    expect(f.map((x) => [x.severity, x.line, x.key])).toEqual([
      ["info", 2, "$NAME"],
      ["info", 1, "result"],
    ]);
  });

  it("an input nothing maps nor gives a value is a warning: a person may still set it", () => {
    const a = node("a", { execute: "ss-get peer.host\n" }, [{ name: "peer.host", category: "input" }]);
    expect(analyzeRecipes([a])).toEqual([
      expect.objectContaining({
        severity: "warning",
        line: 1,
        key: "peer.host",
        message: expect.stringMatching(/input 'a:peer.host' has no value/),
      }),
    ]);
  });

  it("setting a key only the server writes is an error", () => {
    expect(errors(analyzeRecipes([node("a", { execute: "ss-set ss:state Done\n" })]))[0].message).toMatch(
      /'ss:state' is written by the server only/,
    );
  });
});

describe("the shipped examples", () => {
  it("have no errors: the analysis does not cry wolf on recipes that work", () => {
    const root = join(import.meta.dirname, "..");
    const files = (d: string): string[] =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(join(d, e.name)) : e.name.endsWith(".yaml") ? [join(d, e.name)] : [],
      );
    const docs = new Map(
      files(join(root, "examples")).map((f) => [
        relative(root, f).replace(/\.yaml$/, ""),
        parseModuleYaml(readFileSync(f, "utf8"), f),
      ]),
    );
    let deployments = 0;
    for (const [path, doc] of docs) {
      if (doc.kind !== "deployment") continue;
      deployments++;
      const nodes = Object.entries(doc.nodes).map(([name, n]) => {
        const imagePath = resolveImageRef(path, n.image);
        const image = docs.get(imagePath) as ImageModule;
        return { name, imagePath, image, multiplicity: n.multiplicity, mappings: n.mappings };
      });
      expect(errors(analyzeRecipes(nodes)), path).toEqual([]);
    }
    expect(deployments).toBeGreaterThan(0);
  });
});
