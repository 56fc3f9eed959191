import { MAPPABLE_BUILTINS, parseMapping, readImageRef } from "@/protocol/module-refs";
import type { DeploymentModule, ImageModule, ModuleRecord } from "@/protocol/modules";
import { NODE_NAME_RE } from "@/protocol/run";

export { type Mapping, parseMapping } from "@/protocol/module-refs";

/** The path an image reference names (what is wrong with it is the server's to say, at save). */
export const resolveImageRef = (deploymentPath: string, ref: string): string => readImageRef(deploymentPath, ref).path;

/**
 * Why `name` cannot be the name of a node of a deployment whose nodes are `taken` (the protocol's node-name rule),
 * or null when it can. `self` is the node being renamed: keeping its own name is no clash.
 */
export function nodeNameProblem(name: string, taken: readonly string[], self?: string): string | null {
  if (name === "") return "give the node a name, e.g. probe";
  if (!NODE_NAME_RE.test(name) || name.length > 64)
    return `'${name}' must start with a letter and hold only letters, digits, _ and - (at most 64)`;
  if (name !== self && taken.includes(name)) return `this deployment already has a node named '${name}'`;
  return null;
}

/**
 * Renames node `from` to `to` in a deployment's nodes, and every mapping that reads from it (`from:output` in any
 * node's mappings, its own included) reads from `to` instead; literals (`'from:x'`) and other nodes' outputs stay as
 * they are. Returns new objects for what changed and the count of mappings that followed; the order is kept.
 */
export function renameNode<N extends { name: string; mappings: Record<string, string> }>(
  nodes: readonly N[],
  from: string,
  to: string,
): { nodes: N[]; followed: number } {
  let followed = 0;
  const out = nodes.map((n) => {
    let mappings = n.mappings;
    for (const [input, value] of Object.entries(n.mappings)) {
      const m = parseMapping(value.trim());
      if (m?.kind !== "output" || m.node !== from) continue;
      if (mappings === n.mappings) mappings = { ...n.mappings };
      mappings[input] = `${to}:${m.name}`;
      followed++;
    }
    if (n.name !== from && mappings === n.mappings) return n;
    return { ...n, name: n.name === from ? to : n.name, mappings };
  });
  return { nodes: out, followed };
}

/** Field errors of a form about `nodes.<from>.…` moved to `nodes.<to>.…`, so they stay at their fields. */
export function renameFieldKeys(fields: Record<string, string>, from: string, to: string): Record<string, string> {
  const prefix = `nodes.${from}.`;
  return Object.fromEntries(
    Object.entries(fields).map(([k, v]) => [k.startsWith(prefix) ? `nodes.${to}.${k.slice(prefix.length)}` : k, v]),
  );
}

export interface TreeFolder {
  name: string;
  path: string;
  project: ModuleRecord | null;
  folders: Map<string, TreeFolder>;
  modules: ModuleRecord[];
}

/** Folders of module paths; a project module is the folder of its own path. */
export function buildTree(modules: ModuleRecord[]): TreeFolder {
  const root: TreeFolder = { name: "", path: "", project: null, folders: new Map(), modules: [] };
  const folder = (segments: string[]): TreeFolder => {
    let cur = root;
    for (const seg of segments) {
      let next = cur.folders.get(seg);
      if (!next) {
        next = {
          name: seg,
          path: cur.path ? `${cur.path}/${seg}` : seg,
          project: null,
          folders: new Map(),
          modules: [],
        };
        cur.folders.set(seg, next);
      }
      cur = next;
    }
    return cur;
  };
  for (const m of modules) {
    const segments = m.path.split("/");
    if (m.kind === "project") folder(segments).project = m;
    else folder(segments.slice(0, -1)).modules.push(m);
  }
  return root;
}

export function findFolder(root: TreeFolder, path: string): TreeFolder | null {
  if (!path) return root;
  let cur: TreeFolder | undefined = root;
  for (const seg of path.split("/")) {
    cur = cur?.folders.get(seg);
    if (!cur) return null;
  }
  return cur;
}

export interface DiagramNode {
  name: string;
  image: string;
  multiplicity: number | string;
  cloud: string | null;
  inputs: { name: string; mapping: string | null; default: string | null }[];
  outputs: string[];
}

export interface DiagramEdge {
  from: string;
  output: string;
  to: string;
  input: string;
  /** the source node has no such output */
  broken: boolean;
}

/** Nodes and mapping arrows of a deployment, with each node's image looked up for its parameters. */
export function deploymentGraph(
  path: string,
  nodes: Record<
    string,
    { image: string; multiplicity: number | string; cloud?: string | null; mappings: Record<string, string> }
  >,
  lookupImage: (path: string) => ImageModule | undefined,
): { nodes: DiagramNode[]; edges: DiagramEdge[] } {
  const images = new Map<string, ImageModule | undefined>();
  for (const [name, n] of Object.entries(nodes)) images.set(name, lookupImage(resolveImageRef(path, n.image)));
  const edges: DiagramEdge[] = [];
  const usedBuiltins = new Map<string, Set<string>>();
  for (const [name, n] of Object.entries(nodes)) {
    for (const [input, raw] of Object.entries(n.mappings)) {
      const m = parseMapping(raw);
      if (m?.kind !== "output" || !Object.hasOwn(nodes, m.node)) continue;
      const src = images.get(m.node);
      const declared = src?.parameters.some((p) => p.category === "output" && p.name === m.name) ?? false;
      const builtin = MAPPABLE_BUILTINS.has(m.name);
      if (!declared) {
        const set = usedBuiltins.get(m.node) ?? new Set();
        set.add(m.name);
        usedBuiltins.set(m.node, set);
      }
      edges.push({ from: m.node, output: m.name, to: name, input, broken: !declared && !builtin });
    }
  }
  const out: DiagramNode[] = Object.entries(nodes).map(([name, n]) => {
    const image = images.get(name);
    const inputs = (image?.parameters ?? [])
      .filter((p) => p.category === "input")
      .map((p) => ({ name: p.name, mapping: n.mappings[p.name] ?? null, default: p.default ?? null }));
    for (const key of Object.keys(n.mappings)) {
      if (!inputs.some((i) => i.name === key)) inputs.push({ name: key, mapping: n.mappings[key], default: null });
    }
    const outputs = (image?.parameters ?? []).filter((p) => p.category === "output").map((p) => p.name);
    for (const b of usedBuiltins.get(name) ?? []) if (!outputs.includes(b)) outputs.push(b);
    // outputs in the order of the inputs they feed, so the arrows do not cross
    const rank = (output: string) => {
      const targets = edges
        .filter((e) => e.from === name && e.output === output)
        .map((e) => {
          const node = Object.keys(nodes).indexOf(e.to);
          const inputs =
            images
              .get(e.to)
              ?.parameters.filter((p) => p.category === "input")
              .map((p) => p.name) ?? [];
          const at = inputs.indexOf(e.input);
          return node * 1000 + (at < 0 ? 999 : at);
        });
      return targets.length ? Math.min(...targets) : Number.MAX_SAFE_INTEGER;
    };
    outputs.sort((x, y) => rank(x) - rank(y));
    return {
      name,
      image: resolveImageRef(path, n.image),
      multiplicity: n.multiplicity,
      cloud: n.cloud ?? null,
      inputs,
      outputs,
    };
  });
  return { nodes: out, edges };
}

/** Column of each node: sources first, then the nodes that read from them. */
export function nodeDepths(names: string[], edges: { from: string; to: string }[]): Map<string, number> {
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (n: string): number => {
    const known = depth.get(n);
    if (known !== undefined) return known;
    if (visiting.has(n)) return 0; // a cycle: break it
    visiting.add(n);
    let d = 0;
    for (const e of edges) if (e.to === n && e.from !== n) d = Math.max(d, visit(e.from) + 1);
    visiting.delete(n);
    depth.set(n, d);
    return d;
  };
  for (const n of names) visit(n);
  return depth;
}

export function isDeployment(m: ModuleRecord): m is ModuleRecord & { doc: DeploymentModule } {
  return m.doc.kind === "deployment";
}
