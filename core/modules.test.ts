import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { SlipError } from "../protocol/errors.js";
import type { DeploymentModule, ImageModule, ModuleDoc } from "../protocol/modules.js";
import { BUILTIN_GLOBAL_PARAMS, BUILTIN_INSTANCE_PARAMS } from "./builtins.js";
import {
  parseMapping,
  parseModuleYaml,
  resolveImageRef,
  serializeModuleYaml,
  validateDeployment,
  validateImage,
} from "./modules.js";
import { instanceParams } from "./params.js";
import type { RunNodeSpec } from "./run-spec.js";

const ROOT = join(import.meta.dirname, "..");
const EXAMPLES = join(ROOT, "examples");

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return yamlFiles(p);
    return e.name.endsWith(".yaml") ? [p] : [];
  });
}

/** Every example module by module path (file path under the repository root, without `.yaml`). */
function loadExamples(): Map<string, { file: string; text: string; doc: ModuleDoc }> {
  const out = new Map<string, { file: string; text: string; doc: ModuleDoc }>();
  for (const file of yamlFiles(EXAMPLES)) {
    const text = readFileSync(file, "utf8");
    const path = relative(ROOT, file).replace(/\.yaml$/, "");
    out.set(path, { file, text, doc: parseModuleYaml(text, relative(ROOT, file)) });
  }
  return out;
}

function errorOf(fn: () => unknown): SlipError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SlipError);
    expect((e as SlipError).code).toBe("BAD_REQUEST");
    return e as SlipError;
  }
  throw new Error("expected a BAD_REQUEST SlipError");
}

const TUTORIAL = "examples/tutorials/service-testing";

// small, valid modules the bad cases start from
const APACHE = `kind: image
parameters:
  - { name: port, category: output }
  - { name: ready, category: output }
targets:
  execute: |
    #!/bin/sh -xe
    ss-set port 80
`;
const CLIENT = `kind: image
parameters:
  - { name: webserver.hostname, category: input }
  - { name: webserver.port, category: input }
  - { name: webserver.ready, category: input }
  - { name: retries, category: input, default: "3" }
`;
const SYSTEM = `kind: deployment
nodes:
  apache: { image: apache, multiplicity: 1 }
  client:
    image: client
    multiplicity: 1
    mappings:
      webserver.hostname: apache:hostname
      webserver.port: apache:port
      webserver.ready: apache:ready
`;

function images(): (p: string) => ImageModule | undefined {
  const known: Record<string, ImageModule> = {
    [`${TUTORIAL}/apache`]: parseModuleYaml(APACHE, "apache.yaml") as ImageModule,
    [`${TUTORIAL}/client`]: parseModuleYaml(CLIENT, "client.yaml") as ImageModule,
  };
  return (p) => known[p];
}

function system(edit: (d: DeploymentModule) => void = () => {}): DeploymentModule {
  const doc = parseModuleYaml(SYSTEM, "system.yaml") as DeploymentModule;
  edit(doc);
  return doc;
}

const validateSystem = (doc: DeploymentModule) => () => validateDeployment(`${TUTORIAL}/system`, doc, images());

describe("example modules", () => {
  const examples = loadExamples();

  it("include the seed's tutorial", () => {
    for (const name of ["apache", "client", "system", "system-failing"])
      expect(examples.has(`${TUTORIAL}/${name}`)).toBe(true);
  });

  it("parse and validate", () => {
    const lookup = (p: string) => {
      const doc = examples.get(p)?.doc;
      return doc?.kind === "image" ? doc : undefined;
    };
    for (const [path, { doc }] of examples) {
      if (doc.kind === "image") validateImage(path, doc);
      if (doc.kind === "deployment") validateDeployment(path, doc, lookup);
    }
  });

  it("round-trip losslessly, stably, and are written in the serializer's form", () => {
    for (const [, { file, text, doc }] of examples) {
      const once = serializeModuleYaml(doc);
      expect(parseModuleYaml(once, file)).toEqual(doc);
      expect(serializeModuleYaml(parseModuleYaml(once, file))).toBe(once);
      expect(once).toBe(text);
    }
  });

  it("tell the tutorial's story", () => {
    const apache = examples.get(`${TUTORIAL}/apache`)!.doc as ImageModule;
    expect(apache.parameters.map((p) => `${p.category}:${p.name}`)).toEqual(["output:port", "output:ready"]);
    expect(apache.targets.execute).toMatch(/^#!\/bin\/sh -xe\n/);
    expect(apache.targets.execute).toContain("Welcome to SlipStream!");
    // the seed's report script, verbatim, plus the local stand-in's logs
    expect(apache.targets.report).toMatch(
      /^#!\/bin\/sh -x\ncp \/var\/log\/apache2\/access.log \$SLIPSTREAM_REPORT_DIR\ncp \/var\/log\/apache2\/error.log \$SLIPSTREAM_REPORT_DIR\n/,
    );
    expect(apache.targets.report).toContain("cp logs/access.log $SLIPSTREAM_REPORT_DIR");

    const client = examples.get(`${TUTORIAL}/client`)!.doc as ImageModule;
    expect(client.parameters.map((p) => `${p.category}:${p.name}:${p.default ?? "-"}`)).toEqual([
      "input:webserver.hostname:-",
      "input:webserver.port:-",
      "input:webserver.ready:-",
    ]);
    expect(client.targets.execute).toMatch(/^#!\/bin\/sh -xe\n/);
    expect(client.targets.execute).toContain("ss-abort");
    expect(client.targets.report).toBe(
      ["#!/bin/sh -x", "cp $" + "{TMPDIR:-/tmp}/data.txt $SLIPSTREAM_REPORT_DIR", ""].join("\n"),
    );

    const sys = examples.get(`${TUTORIAL}/system`)!.doc as DeploymentModule;
    expect(sys.nodes.apache).toEqual({ image: "apache", multiplicity: 1, mappings: {} });
    expect(sys.nodes.client.mappings).toEqual({
      "webserver.hostname": "apache:hostname",
      "webserver.port": "apache:port",
      "webserver.ready": "apache:ready",
    });
    const failing = examples.get(`${TUTORIAL}/system-failing`)!.doc as DeploymentModule;
    expect(parseMapping(failing.nodes.client.mappings["webserver.port"])).toEqual({ kind: "literal", value: "9" });
  });
});

describe("parseModuleYaml", () => {
  it("parses the sample of the design, comments included", () => {
    const doc = parseModuleYaml(`# examples/tutorials/service-testing/system.yaml\n${SYSTEM}`, "system.yaml");
    expect(doc).toEqual({
      kind: "deployment",
      nodes: {
        apache: { image: "apache", multiplicity: 1, mappings: {} },
        client: {
          image: "client",
          multiplicity: 1,
          mappings: {
            "webserver.hostname": "apache:hostname",
            "webserver.port": "apache:port",
            "webserver.ready": "apache:ready",
          },
        },
      },
    });
    expect(parseModuleYaml("kind: image\n", "x.yaml")).toEqual({ kind: "image", parameters: [], targets: {} });
    expect(parseModuleYaml("kind: project\ndescription: Tutorials\n", "x.yaml")).toEqual({
      kind: "project",
      description: "Tutorials",
    });
  });

  const cases: [string, string, string][] = [
    ["unknown field", "kind: image\ntargets:\n  execut: x\n", "apache.yaml: targets.execut: unknown field"],
    ["unknown top-level field", "kind: image\nscripts: {}\n", "apache.yaml: scripts: unknown field"],
    [
      "multiplicity -1",
      "kind: deployment\nnodes:\n  client: { image: client, multiplicity: -1 }\n",
      "apache.yaml: nodes.client.multiplicity: must be 0 or more",
    ],
    [
      "fractional multiplicity",
      "kind: deployment\nnodes:\n  client: { image: client, multiplicity: 1.5 }\n",
      "apache.yaml: nodes.client.multiplicity: must be a whole number",
    ],
    [
      "a node name SlipStream keeps (conformance: `ss` mixed its keys with the run's)",
      "kind: deployment\nnodes:\n  ss: { image: client }\n",
      "apache.yaml: nodes.ss: 'ss' is a name SlipStream keeps for itself (ss, orchestrator, machine)",
    ],
    [
      "bad node name",
      "kind: deployment\nnodes:\n  1bad: { image: client }\n",
      "apache.yaml: nodes.1bad: bad node name: must start with a letter and hold only letters, digits, _ and -",
    ],
    [
      "oversize default",
      `kind: image\nparameters:\n  - { name: x, category: input, default: ${"a".repeat(4097)} }\n`,
      "apache.yaml: parameters[0].default: must be at most 4096 characters",
    ],
    [
      "unquoted number",
      "kind: image\nparameters:\n  - { name: port, category: output, default: 80 }\n",
      "apache.yaml: parameters[0].default: expected a string, got a number (quote it: '80')",
    ],
    [
      "bad category",
      "kind: image\nparameters:\n  - { name: port, category: inout }\n",
      "apache.yaml: parameters[0].category: must be input or output",
    ],
    [
      "bad parameter name",
      "kind: image\nparameters:\n  - { name: 9lives, category: input }\n",
      "apache.yaml: parameters[0].name: must match",
    ],
    [
      "bad package name",
      "kind: image\ntargets:\n  packages: [ '-rf' ]\n",
      "apache.yaml: targets.packages[0]: must be a package name",
    ],
    ["missing nodes", "kind: deployment\n", "apache.yaml: nodes: required"],
    ["missing kind", "description: x\n", "apache.yaml: kind: required (image, deployment or project)"],
    ["bad kind", "kind: imagee\n", "apache.yaml: kind: must be image, deployment or project"],
    ["empty file", "", "apache.yaml: expected a map with kind: image, deployment or project, got an empty file"],
    ["a list", "- kind: image\n", "apache.yaml: expected a map with kind: image, deployment or project, got a list"],
    [
      "bad indentation",
      "kind: deployment\nnodes:\n  apache:\n    image: apache\n   multiplicity: 1\n",
      "apache.yaml: line 5, column 1: all mapping items must start at the same column",
    ],
    ["unclosed quote", "kind: image\ndescription: 'abc\n", "apache.yaml: line 3, column 1: missing closing 'quote"],
    ["duplicate key", "kind: image\nkind: image\n", "apache.yaml: line 2, column 1: duplicate key"],
    ["two documents", "kind: image\n---\nkind: image\n", "apache.yaml: line 2, column 1: only one document per file"],
    ["alias", "kind: image\ndescription: &d hi\ntargets: { execute: *d }\n", "apache.yaml: line 3, column 21: aliases"],
  ];
  for (const [name, text, message] of cases) {
    it(`rejects ${name}, naming the field`, () => {
      expect(errorOf(() => parseModuleYaml(text, "apache.yaml")).message).toContain(message);
    });
  }

  it("lists every problem of a file", () => {
    const e = errorOf(() =>
      parseModuleYaml("kind: deployment\nnodes:\n  a: { image: x, multiplicity: -1, colud: c }\n", "s.yaml"),
    );
    expect(e.message).toBe("s.yaml: nodes.a.multiplicity: must be 0 or more; nodes.a.colud: unknown field");
  });

  it("refuses an alias bomb without expanding it", () => {
    const lines = ["kind: image", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 30; i++)
      lines.push(
        `a${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(", ")}]`,
      );
    expect(errorOf(() => parseModuleYaml(lines.join("\n"), "bomb.yaml")).message).toContain("aliases");
  });
});

describe("serializeModuleYaml", () => {
  it("writes keys in order, scripts as literal blocks, parameters one per line", () => {
    const doc: ModuleDoc = {
      kind: "image",
      targets: {
        report: "#!/bin/sh -x\ncp /tmp/data.txt $SLIPSTREAM_REPORT_DIR\n",
        packages: ["apache2", "wget"],
        execute: "#!/bin/sh -xe\necho hi\n",
        "pre-install": "echo pre",
      },
      parameters: [
        { name: "webserver.port", category: "input", description: "Port: the web server's", default: "80" },
        { name: "ready", category: "output" },
      ],
      description: "An image",
    };
    expect(serializeModuleYaml(doc)).toBe(`kind: image
description: An image
parameters:
  - { name: webserver.port, category: input, default: "80", description: "Port: the web server's" }
  - { name: ready, category: output }
targets:
  pre-install: |-
    echo pre
  packages: [ apache2, wget ]
  execute: |
    #!/bin/sh -xe
    echo hi
  report: |
    #!/bin/sh -x
    cp /tmp/data.txt $SLIPSTREAM_REPORT_DIR
`);
  });

  it("writes nodes without mappings on one line and quotes literal mappings", () => {
    const doc: ModuleDoc = {
      kind: "deployment",
      nodes: {
        apache: { image: "apache", multiplicity: 1, mappings: {}, cloud: "ssh" },
        client: { image: "../other/client", multiplicity: 3, mappings: { "webserver.port": "'9'", x: "apache:port" } },
      },
    };
    const text = serializeModuleYaml(doc);
    expect(text).toBe(`kind: deployment
nodes:
  apache: { image: apache, multiplicity: 1, cloud: ssh }
  client:
    image: ../other/client
    multiplicity: 3
    mappings:
      webserver.port: "'9'"
      x: apache:port
`);
    expect(parseModuleYaml(text, "d.yaml")).toEqual(doc);
  });

  it("round-trips awkward text losslessly (seeded fuzz)", () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const alphabet = ["a", " ", "\n", "\t", "'", '"', ":", "#", "-", "\\", "\r", "{", "}", "[", "]", ",", "&", "*"];
    alphabet.push("!", "|", ">", "%", "@", "`", "?", "é", "\u0000", "\u2028", "yes", "null", "1", "...", "---");
    const fuzz = () =>
      Array.from({ length: Math.floor(random() * 25) }, () => alphabet[Math.floor(random() * alphabet.length)]).join(
        "",
      );
    const fixed = ["", " ", " \n", "\n", "a\n\n", "  lead\nx", "x\n  \n", "trail  \n", "'q'", "~", "123", "true"];
    const texts = [...fixed, ...Array.from({ length: 1500 }, fuzz)];
    for (const s of texts) {
      const docs: ModuleDoc[] = [
        {
          kind: "image",
          description: s,
          parameters: [{ name: "p", category: "input", default: s, description: s }],
          targets: { execute: s, report: s, packages: ["a"] },
        },
        {
          kind: "deployment",
          description: s,
          nodes: {
            a: { image: "x", multiplicity: 2, cloud: s || "c", mappings: { m: s || "q" } },
            b: { image: s || "y", multiplicity: 0, mappings: {} },
          },
        },
      ];
      for (const doc of docs) {
        const text = serializeModuleYaml(doc);
        expect(parseModuleYaml(text, "fuzz.yaml"), JSON.stringify(s)).toEqual(doc);
        expect(serializeModuleYaml(parseModuleYaml(text, "fuzz.yaml"))).toBe(text);
      }
    }
  });
});

describe("resolveImageRef", () => {
  const sys = `${TUTORIAL}/system`;
  it("resolves relative to the deployment's folder, or absolute from the root", () => {
    expect(resolveImageRef(sys, "apache")).toBe(`${TUTORIAL}/apache`);
    expect(resolveImageRef(sys, "./apache")).toBe(`${TUTORIAL}/apache`);
    expect(resolveImageRef(sys, "../common/base")).toBe("examples/tutorials/common/base");
    expect(resolveImageRef(sys, "/examples/x/y")).toBe("examples/x/y");
    expect(resolveImageRef(sys, "../../../top")).toBe("top");
    expect(resolveImageRef("system", "apache")).toBe("apache");
  });
  it("refuses references leaving the root, naming the field", () => {
    expect(errorOf(() => resolveImageRef(sys, "../../../../x", "nodes.a.image")).message).toBe(
      "nodes.a.image: '../../../../x' points outside the root",
    );
    expect(errorOf(() => resolveImageRef("system", "/")).message).toBe("image: '/' is not a valid module path");
    expect(errorOf(() => resolveImageRef("system", "a b")).message).toBe("image: 'a b' is not a valid module path");
  });
});

describe("parseMapping", () => {
  it("reads literals and outputs", () => {
    expect(parseMapping("'9'")).toEqual({ kind: "literal", value: "9" });
    expect(parseMapping('"a b"')).toEqual({ kind: "literal", value: "a b" });
    expect(parseMapping("''")).toEqual({ kind: "literal", value: "" });
    expect(parseMapping("apache:hostname")).toEqual({ kind: "output", node: "apache", name: "hostname" });
    expect(parseMapping("apache:url.ssh")).toEqual({ kind: "output", node: "apache", name: "url.ssh" });
  });
  it("rejects anything else", () => {
    for (const bad of ["9", "apache", "'9", "apache.1:port", ":port", "apache:", "apache:a:b", "1a:port", "'x\""]) {
      expect(parseMapping(bad), bad).toBeNull();
    }
  });
});

describe("validateDeployment", () => {
  it("accepts the tutorial, built-in outputs and literals", () => {
    validateSystem(system())();
    validateSystem(
      system((d) => {
        d.nodes.client.mappings["webserver.hostname"] = "apache:url.service";
        d.nodes.client.mappings["webserver.port"] = "'8080'";
        d.nodes.client.mappings.retries = '"5"';
      }),
    )();
    // images by absolute path
    validateDeployment(
      "elsewhere/system",
      system((d) => {
        d.nodes.apache.image = `/${TUTORIAL}/apache`;
        d.nodes.client.image = `../${TUTORIAL}/client`;
      }),
      images(),
    );
  });

  const cases: [string, (d: DeploymentModule) => void, string][] = [
    ["unknown image", (d) => (d.nodes.apache.image = "apach"), `nodes.apache.image: unknown image '${TUTORIAL}/apach'`],
    [
      "image outside the root",
      (d) => (d.nodes.apache.image = "../../../../x"),
      "nodes.apache.image: '../../../../x' points outside the root",
    ],
    [
      "mapping to a missing output",
      (d) => (d.nodes.client.mappings["webserver.port"] = "apache:prt"),
      "nodes.client.mappings.webserver.port: apache has no output parameter 'prt'",
    ],
    [
      "mapping to an input",
      (d) => (d.nodes.client.mappings["webserver.port"] = "client:retries"),
      "nodes.client.mappings.webserver.port: client has no output parameter 'retries' ('retries' is an input)",
    ],
    [
      "mapping to a built-in that is not an output",
      (d) => (d.nodes.client.mappings["webserver.ready"] = "apache:abort"),
      "nodes.client.mappings.webserver.ready: apache has no output parameter 'abort'",
    ],
    [
      "mapping to a missing node",
      (d) => (d.nodes.client.mappings["webserver.port"] = "apachee:port"),
      "nodes.client.mappings.webserver.port: 'apachee' is not a node of this deployment",
    ],
    [
      "unmapped input without default",
      (d) => delete d.nodes.client.mappings["webserver.ready"],
      "nodes.client.mappings.webserver.ready: input 'webserver.ready' has no default and is not mapped",
    ],
    [
      "mapping key not an input",
      (d) => (d.nodes.client.mappings["webserver.name"] = "'x'"),
      `nodes.client.mappings.webserver.name: 'webserver.name' is not an input parameter of image '${TUTORIAL}/client'`,
    ],
    [
      "mapping an output",
      (d) => (d.nodes.apache.mappings.port = "'81'"),
      `nodes.apache.mappings.port: 'port' is not an input parameter of image '${TUTORIAL}/apache'`,
    ],
    [
      "bad mapping syntax",
      (d) => (d.nodes.client.mappings["webserver.port"] = "80"),
      `nodes.client.mappings.webserver.port: '80' must be <node>:<output> or a quoted literal ('value' or "value")`,
    ],
    [
      "instance-qualified mapping",
      (d) => (d.nodes.client.mappings["webserver.port"] = "apache.1:port"),
      "nodes.client.mappings.webserver.port: 'apache.1:port' must be <node>:<output> or a quoted literal ('value' or \"value\") (map to the node, e.g. 'apache:port')",
    ],
    [
      "oversize literal",
      (d) => (d.nodes.client.mappings["webserver.port"] = `'${"x".repeat(4097)}'`),
      "nodes.client.mappings.webserver.port: literal must be at most 4096 characters",
    ],
  ];
  for (const [name, edit, message] of cases) {
    it(`rejects ${name}, naming the field`, () => {
      expect(errorOf(validateSystem(system(edit))).message).toContain(`${TUTORIAL}/system: ${message}`);
    });
  }

  it("collects every problem", () => {
    const e = errorOf(
      validateSystem(
        system((d) => {
          d.nodes.apache.image = "nope";
          d.nodes.client.mappings["webserver.port"] = "80";
          delete d.nodes.client.mappings["webserver.ready"];
        }),
      ),
    );
    expect(e.message).toBe(
      `${TUTORIAL}/system: nodes.apache.image: unknown image '${TUTORIAL}/nope'; ` +
        `nodes.client.mappings.webserver.port: '80' must be <node>:<output> or a quoted literal ('value' or "value"); ` +
        "nodes.client.mappings.webserver.ready: input 'webserver.ready' has no default and is not mapped",
    );
  });
});

describe("validateImage", () => {
  it("accepts the small images", () => {
    validateImage("apache", parseModuleYaml(APACHE, "apache.yaml") as ImageModule);
    validateImage("client", parseModuleYaml(CLIENT, "client.yaml") as ImageModule);
  });
  it("rejects duplicate parameters", () => {
    const text =
      "kind: image\nparameters:\n  - { name: port, category: output }\n  - { name: ready, category: output }\n  - { name: port, category: input }\n";
    const doc = parseModuleYaml(text, "apache.yaml");
    expect(errorOf(() => validateImage("apache", doc as ImageModule)).message).toBe(
      "apache: parameters[2].name: duplicate parameter 'port' (also parameters[0])",
    );
  });
  it("rejects parameters named like built-ins", () => {
    for (const name of ["multiplicity", "ids"]) {
      const doc: ImageModule = { kind: "image", parameters: [{ name, category: "output" }], targets: {} };
      expect(errorOf(() => validateImage("img", doc)).message).toBe(
        `img: parameters[0].name: '${name}' is a built-in node parameter`,
      );
    }
    for (const name of Object.keys(BUILTIN_INSTANCE_PARAMS)) {
      for (const p of [
        { name, category: "input" as const },
        { name, category: "output" as const, default: "x" },
      ]) {
        const doc: ImageModule = { kind: "image", parameters: [p], targets: {} };
        expect(errorOf(() => validateImage("img", doc)).message).toBe(
          `img: parameters[0].name: '${name}' is a built-in instance parameter (it may only be restated as an output without a default)`,
        );
      }
    }
  });
  it("accepts an instance built-in restated as an output, as SlipStream's images declare hostname and instanceid", () => {
    const doc: ImageModule = {
      kind: "image",
      parameters: [
        { name: "hostname", category: "output", description: "hostname/ip of the image" },
        { name: "instanceid", category: "output" },
        { name: "port", category: "output", default: "8080" },
      ],
      targets: {},
    };
    validateImage("img", doc);
    // one key per built-in: the restatement is the built-in, not a second declaration of it
    const node: RunNodeSpec = {
      name: "apache",
      imagePath: "img",
      image: doc,
      multiplicity: 1,
      mappings: {},
      cloud: "local",
    };
    const keys = instanceParams(node, 1, {}, () => null).map((d) => d.key);
    expect(keys.filter((k) => k === "apache.1:hostname")).toHaveLength(1);
    expect(keys.filter((k) => k === "apache.1:instanceid")).toHaveLength(1);
    expect(keys).toContain("apache.1:port");
  });
});

describe("built-in parameters", () => {
  it("are the design's and SlipStream's (reference §3.2), each described", () => {
    expect(Object.keys(BUILTIN_INSTANCE_PARAMS)).toEqual([
      "hostname",
      "instanceid",
      "url.ssh",
      "url.service",
      "statecustom",
      "abort",
      "complete",
      "scale.state",
      "nodename",
      "id",
      "cloud",
      "cloudservice",
      "vmstate",
      "is.orchestrator",
      "image.id",
      "image.platform",
      "pre.scale.done",
      "scale.iaas.done",
    ]);
    expect(Object.keys(BUILTIN_GLOBAL_PARAMS)).toEqual([
      "state",
      "abort",
      "recovery.mode",
      "url.service",
      "tags",
      "category",
      "complete",
      "groups",
    ]);
    for (const d of [...Object.values(BUILTIN_INSTANCE_PARAMS), ...Object.values(BUILTIN_GLOBAL_PARAMS)]) {
      expect(d.length).toBeGreaterThan(10);
    }
  });
});
