import type { ParsedKey } from "../protocol/keys.js";
import type { ParamCategory } from "../protocol/run.js";
import { BUILTIN_GLOBAL_PARAMS, BUILTIN_INSTANCE_PARAMS, restatesBuiltin } from "./builtins.js";
import { parseMapping } from "./modules.js";
import type { RunNodeSpec, RunSpec } from "./run-spec.js";

export interface DeclaredParam {
  key: string;
  value: string | null;
  category: ParamCategory;
  description: string;
}

/** Node-level built-ins: `<node>:multiplicity` and `<node>:ids`. */
export function nodeParams(node: string, liveIndexes: number[]): DeclaredParam[] {
  return [
    {
      key: `${node}:multiplicity`,
      value: String(liveIndexes.length),
      category: "builtin",
      description: "Number of live instances",
    },
    {
      key: `${node}:ids`,
      value: liveIndexes.join(","),
      category: "builtin",
      description: "Indexes of the live instances",
    },
  ];
}

/** The run's global keys; `category` and `groups` say what it runs and where, as SlipStream's scripts read them. */
export function globalParams(tags: string[], spec: Pick<RunSpec, "nodes" | "category">): DeclaredParam[] {
  const value: Record<string, string> = {
    tags: tags.join(","),
    "recovery.mode": "false",
    category: spec.category ?? "Deployment",
    groups: spec.nodes.map((n) => `${n.cloud}:${n.name}`).join(","),
  };
  return Object.entries(BUILTIN_GLOBAL_PARAMS).map(([name, description]) => ({
    key: `ss:${name}`,
    value: value[name] ?? null,
    category: "builtin",
    description,
  }));
}

/**
 * The keys one instance declares: built-ins, then the image's parameters. Inputs take, in order of precedence,
 * a Run-dialog override, a literal mapping, the current value of a mapped output (so instances added later
 * see what was already published), or the image default.
 */
export function instanceParams(
  node: RunNodeSpec,
  index: number,
  overrides: Record<string, string>,
  currentValue: (key: string) => string | null,
): DeclaredParam[] {
  const instance = `${node.name}.${index}`;
  const out: DeclaredParam[] = Object.entries(BUILTIN_INSTANCE_PARAMS).map(([name, description]) => ({
    key: `${instance}:${name}`,
    value: instanceBuiltin(name, node, index),
    category: "builtin",
    description,
  }));
  for (const p of node.image.parameters) {
    if (restatesBuiltin(p)) continue;
    let value: string | null = p.default ?? null;
    if (p.category === "input") {
      // an input named like a key of Object.prototype (`constructor`) is unmapped unless the node maps it
      const raw = Object.hasOwn(node.mappings, p.name) ? node.mappings[p.name] : undefined;
      const mapping = raw ? parseMapping(raw) : null;
      const override = overrides[`${node.name}:${p.name}`];
      if (override !== undefined) value = override;
      else if (mapping?.kind === "literal") value = mapping.value;
      else if (mapping?.kind === "output") value = currentValue(`${mapping.node}.1:${mapping.name}`) ?? value;
    }
    out.push({ key: `${instance}:${p.name}`, value, category: p.category, description: p.description ?? "" });
  }
  return out;
}

/** What an instance built-in holds when the instance is declared (null: unset until someone sets it). */
function instanceBuiltin(name: string, node: RunNodeSpec, index: number): string | null {
  switch (name) {
    case "nodename":
      return node.name;
    case "id":
      return String(index);
    case "cloud":
    case "cloudservice":
      return node.cloud;
    case "vmstate":
      return "Unknown";
    case "scale.state":
      // SlipStream's lifecycle: creating → created (provisioned) → operational (reports sent)
      return "creating";
    case "is.orchestrator":
    case "complete":
    case "pre.scale.done":
    case "scale.iaas.done":
      return "false";
    case "image.id":
      return node.imagePath;
    case "image.platform":
      // images name no platform: the local, SSH and container clouds all run Linux
      return "linux";
    default:
      return null;
  }
}

/** Consumers of each published output: `apache.1:hostname` → [{ node: "client", name: "webserver.hostname" }]. */
export function mappingConsumers(spec: RunSpec): Map<string, { node: string; name: string }[]> {
  const consumers = new Map<string, { node: string; name: string }[]>();
  for (const node of spec.nodes) {
    for (const [input, raw] of Object.entries(node.mappings)) {
      const mapping = parseMapping(raw);
      if (mapping?.kind !== "output") continue;
      const source = `${mapping.node}.1:${mapping.name}`;
      const list = consumers.get(source) ?? [];
      list.push({ node: node.name, name: input });
      consumers.set(source, list);
    }
  }
  return consumers;
}

/** Instance keys a node or user may read but only the server writes. */
const SERVER_OWNED_INSTANCE_NAMES = new Set([
  "abort",
  "complete",
  "nodename",
  "id",
  "cloud",
  "cloudservice",
  "instanceid",
  "url.ssh",
  "vmstate",
  "is.orchestrator",
  "image.id",
  "image.platform",
]);
/** Run-global keys only the server writes. */
const SERVER_OWNED_GLOBAL_NAMES = new Set(["state", "abort", "recovery.mode", "category", "groups"]);

/** Whether only the server writes this key (node-level keys change by scaling the node). */
export function isServerOwnedKey(key: ParsedKey): boolean {
  return (
    (key.kind === "global" && SERVER_OWNED_GLOBAL_NAMES.has(key.name)) ||
    key.kind === "node" ||
    (key.kind === "instance" && SERVER_OWNED_INSTANCE_NAMES.has(key.name))
  );
}
