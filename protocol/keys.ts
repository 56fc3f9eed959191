import { PARAM_NAME_RE } from "./run";

/**
 * Runtime parameter keys are `<owner>:<name>`. Owner is an instance `<node>.<i>`, a node `<node>`
 * (only for `multiplicity` and `ids`), or `ss` (run-global).
 */
export type ParsedKey =
  | { kind: "instance"; node: string; index: number; name: string }
  | { kind: "node"; node: string; name: string }
  | { kind: "global"; name: string };

/** Names that live on the node itself rather than on its first instance. */
const NODE_LEVEL_NAMES = new Set(["multiplicity", "ids"]);

const NODE = "[A-Za-z][A-Za-z0-9_-]*";
const INSTANCE_KEY = new RegExp(`^(${NODE})\\.([1-9][0-9]*):(.+)$`);
const NODE_KEY = new RegExp(`^(${NODE}):(.+)$`);

export function parseKey(key: string): ParsedKey | null {
  let m = INSTANCE_KEY.exec(key);
  if (m) {
    if (!PARAM_NAME_RE.test(m[3])) return null;
    return { kind: "instance", node: m[1], index: Number(m[2]), name: m[3] };
  }
  m = NODE_KEY.exec(key);
  if (!m || !PARAM_NAME_RE.test(m[2])) return null;
  if (m[1] === "ss") return { kind: "global", name: m[2] };
  return { kind: "node", node: m[1], name: m[2] };
}

function formatKey(k: ParsedKey): string {
  if (k.kind === "instance") return `${k.node}.${k.index}:${k.name}`;
  if (k.kind === "node") return `${k.node}:${k.name}`;
  return `ss:${k.name}`;
}

/**
 * Qualifies a key as a node script writes it (SlipStream's `_qualifyKey`): bare `foo` is the calling instance's
 * `foo`, except bare `multiplicity` and `ids`, which are the calling node's; `node:foo` is `node.1:foo` except
 * the node-level names; `node.i:foo` and `ss:foo` stay.
 * Returns null when the key cannot be a key at all.
 */
export function qualifyKey(key: string, selfInstance: string): string | null {
  if (!key.includes(":")) {
    if (!PARAM_NAME_RE.test(key)) return null;
    if (NODE_LEVEL_NAMES.has(key)) return `${selfInstance.slice(0, selfInstance.lastIndexOf("."))}:${key}`;
    return `${selfInstance}:${key}`;
  }
  const parsed = parseKey(key);
  if (!parsed) return null;
  if (parsed.kind === "node" && !NODE_LEVEL_NAMES.has(parsed.name)) {
    return `${parsed.node}.1:${parsed.name}`;
  }
  return formatKey(parsed);
}
