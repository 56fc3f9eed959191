import { parseKey, qualifyKey } from "../protocol/keys.js";
import type { ImageModule } from "../protocol/modules.js";
import { SCRIPT_TARGETS } from "../protocol/modules.js";
import type { RunCheckFinding } from "../protocol/run-check.js";
import { BUILTIN_GLOBAL_PARAMS, BUILTIN_INSTANCE_PARAMS, BUILTIN_NODE_PARAMS } from "./builtins.js";
import { parseMapping } from "./module-refs.js";
import { isServerOwnedKey } from "./params.js";
import { type SsInvocation, scanScript } from "./ss-script-scan.js";

/** What the static analysis needs of a run's node: the resolved spec's node, or a deployment node and its image. */
export interface CheckedNode {
  name: string;
  imagePath: string;
  image: Pick<ImageModule, "parameters" | "targets">;
  multiplicity: number;
  mappings: Record<string, string>;
}

/** The targets an instance runs one after the other in Executing (agent/recipes.ts), where a wait can deadlock. */
const EXECUTING_TARGETS = ["pre-install", "post-install", "execute"] as const;
/** Instance built-ins someone sets without a script: the cloud, the agent or the server. */
const SET_WITHOUT_SCRIPT = new Set([
  "hostname",
  "instanceid",
  "url.ssh",
  "vmstate",
  "complete",
  "scale.state",
  "nodename",
  "id",
  "cloud",
  "cloudservice",
  "is.orchestrator",
  "image.id",
  "image.platform",
  // the server on an abort, the agent after prescale, the cloud after a resize
  "abort",
  "pre.scale.done",
  "scale.iaas.done",
]);

interface Op {
  node: string;
  target: string;
  line: number;
  kind: "get" | "set";
  /** `node:name`, the instance index left out: every instance of a node runs the same script */
  slot: string;
  key: string;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** ` (did you mean 'x'?)` for the closest candidate within a typo's reach, else "". */
export function suggestion(word: string, candidates: Iterable<string>): string {
  let best: string | null = null;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== null && bestD <= Math.max(2, Math.floor(word.length / 4)) ? ` (did you mean '${best}'?)` : "";
}

/**
 * Checks what the recipes of a run's nodes say about its runtime parameters, without running anything: every
 * literal key an ss-* command names exists (with a suggestion when it looks misspelt), every key an `ss-get` waits
 * for has a producer (a value, a mapping, the cloud, or an `ss-set` somewhere), and no two nodes wait for each other
 * in Executing (a waits b:x before it sets y while b waits a:y before it sets x).
 */
export function analyzeRecipes(nodes: CheckedNode[], overrides: Record<string, string> = {}): RunCheckFinding[] {
  const findings: RunCheckFinding[] = [];
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const ops: Op[] = [];
  const invocations: { node: CheckedNode; target: string; inv: SsInvocation }[] = [];
  for (const node of nodes) {
    for (const target of SCRIPT_TARGETS) {
      const script = node.image.targets[target];
      if (typeof script !== "string") continue;
      for (const inv of scanScript(script)) invocations.push({ node, target, inv });
    }
  }

  const finding = (
    severity: RunCheckFinding["severity"],
    node: string,
    target: string,
    line: number,
    key: string | null,
    message: string,
  ) => findings.push({ severity, node, target, line, key, message });

  for (const { node, target, inv } of invocations) {
    const at = (sev: RunCheckFinding["severity"], key: string | null, msg: string) =>
      finding(sev, node.name, target, inv.line, key, msg);
    if (inv.command === "ss-get-all") {
      if (!inv.key?.literal || !inv.name?.literal) {
        at("info", inv.key?.text ?? null, "ss-get-all: node or name built from a variable: not checked");
        continue;
      }
      const other = byName.get(inv.key.text);
      if (!other)
        at("error", inv.key.text, `ss-get-all: no node '${inv.key.text}'${suggestion(inv.key.text, byName.keys())}`);
      else {
        const names = paramNames(other);
        if (!names.has(inv.name.text)) {
          at(
            "error",
            `${inv.key.text}:${inv.name.text}`,
            `ss-get-all: node '${other.name}' has no parameter '${inv.name.text}'${suggestion(inv.name.text, names)}`,
          );
        }
      }
      continue;
    }
    if (inv.command === "ss-display") {
      ops.push({
        node: node.name,
        target,
        line: inv.line,
        kind: "set",
        slot: `${node.name}:statecustom`,
        key: "statecustom",
      });
      continue;
    }
    if (inv.command === "ss-abort") continue;
    if (!inv.key) {
      if (inv.command !== "ss-random") at("error", null, `${inv.command}: no KEY`);
      continue;
    }
    const raw = inv.key.text;
    if (!inv.key.literal) {
      at("info", raw, `${inv.command}: the key is built from a variable or a substitution: not checked`);
      continue;
    }
    const qualified = qualifyKey(raw, `${node.name}.1`);
    const parsed = qualified ? parseKey(qualified) : null;
    if (!parsed) {
      at("error", raw, `${inv.command}: '${raw}' is not a parameter key (name, node:name, node.i:name or ss:name)`);
      continue;
    }
    if (parsed.kind === "global") {
      if (!Object.hasOwn(BUILTIN_GLOBAL_PARAMS, parsed.name)) {
        at(
          "error",
          raw,
          `${inv.command}: no run parameter 'ss:${parsed.name}'${suggestion(parsed.name, Object.keys(BUILTIN_GLOBAL_PARAMS))}`,
        );
        continue;
      }
    } else {
      const owner = byName.get(parsed.node);
      if (!owner) {
        at(
          "error",
          raw,
          `${inv.command}: no node '${parsed.node}' in this run${suggestion(parsed.node, byName.keys())}`,
        );
        continue;
      }
      const names = parsed.kind === "node" ? new Set(Object.keys(BUILTIN_NODE_PARAMS)) : paramNames(owner);
      if (!names.has(parsed.name)) {
        const whose =
          owner === node && !raw.includes(":") ? "this node's image" : `node '${owner.name}' (${owner.imagePath})`;
        at("error", raw, `${inv.command}: ${whose} has no parameter '${parsed.name}'${suggestion(parsed.name, names)}`);
        continue;
      }
      if (parsed.kind === "instance" && parsed.index > owner.multiplicity) {
        at(
          "warning",
          raw,
          `${inv.command}: node '${owner.name}' starts with ${owner.multiplicity} instance(s): '${qualified}' exists only once it is scaled up`,
        );
      }
    }
    const writes = inv.command === "ss-set" || inv.command === "ss-random";
    if (writes && isServerOwnedKey(parsed)) {
      at("error", raw, `${inv.command}: '${qualified}' is written by the server only`);
      continue;
    }
    const slot = parsed.kind === "instance" ? `${parsed.node}:${parsed.name}` : (qualified as string);
    if (writes) ops.push({ node: node.name, target, line: inv.line, kind: "set", slot, key: raw });
    else if (!inv.noblock) ops.push({ node: node.name, target, line: inv.line, kind: "get", slot, key: raw });
  }

  const sets = new Set(ops.filter((o) => o.kind === "set").map((o) => o.slot));
  const dynamicSetters = new Set(
    invocations
      .filter((i) => (i.inv.command === "ss-set" || i.inv.command === "ss-random") && i.inv.key && !i.inv.key.literal)
      .map((i) => i.node.name),
  );
  const feeds = mappedFrom(nodes);
  /** whether a key read by ss-get can have no value when it is read, and who gives it one */
  const waitsFor = (slot: string): string[] | "has-value" => {
    const [nodeName, name] = [slot.slice(0, slot.indexOf(":")), slot.slice(slot.indexOf(":") + 1)];
    const node = byName.get(nodeName);
    if (!node || nodeName === "ss" || SET_WITHOUT_SCRIPT.has(name) || Object.hasOwn(BUILTIN_NODE_PARAMS, name))
      return "has-value";
    const param = node.image.parameters.find((p) => p.name === name);
    if (param?.default !== undefined || overrides[`${nodeName}:${name}`] !== undefined) return "has-value";
    const mapping =
      param?.category === "input" && Object.hasOwn(node.mappings, name) ? parseMapping(node.mappings[name]) : null;
    if (mapping?.kind === "literal") return "has-value";
    const sources = [slot, ...(mapping?.kind === "output" ? [`${mapping.node}:${mapping.name}`] : [])];
    const source = sources.at(-1) as string;
    if (mapping?.kind === "output" && waitsFor(source) === "has-value") return "has-value";
    return sources.filter((s) => sets.has(s) || feeds.has(s));
  };
  for (const op of ops) {
    if (op.kind !== "get") continue;
    const producers = waitsFor(op.slot);
    if (producers === "has-value" || producers.some((p) => sets.has(p))) continue;
    const [ownerNode, name] = [op.slot.slice(0, op.slot.indexOf(":")), op.slot.slice(op.slot.indexOf(":") + 1)];
    const isInput = byName.get(ownerNode)?.image.parameters.some((p) => p.name === name && p.category === "input");
    if (isInput && !producers.some((p) => sets.has(p))) {
      // an unmapped input without a value may still be given one by a person (run page, PUT …/params/KEY)
      finding(
        "warning",
        op.node,
        op.target,
        op.line,
        op.key,
        `ss-get: input '${op.slot}' has no value, no default and no mapping: it waits until someone sets it by hand (or its timeout)`,
      );
    } else if (dynamicSetters.size > 0) {
      finding(
        "info",
        op.node,
        op.target,
        op.line,
        op.key,
        `ss-get: no literal ss-set of '${op.slot}' found; ${[...dynamicSetters].join(", ")} set keys built from variables, which may`,
      );
    } else {
      finding(
        "error",
        op.node,
        op.target,
        op.line,
        op.key,
        `ss-get: nothing ever sets '${op.slot}' (no default, no mapping, no ss-set in any recipe): it waits until its timeout`,
      );
    }
  }
  findings.push(...waitCycles(ops, waitsFor));
  return findings;
}

/** Every name an instance key of this node can carry: its image's parameters and the instance built-ins. */
function paramNames(node: CheckedNode): Set<string> {
  return new Set([...node.image.parameters.map((p) => p.name), ...Object.keys(BUILTIN_INSTANCE_PARAMS)]);
}

/** `node:output` slots some input is mapped from (the server copies their value into the input). */
function mappedFrom(nodes: CheckedNode[]): Set<string> {
  const out = new Set<string>();
  for (const n of nodes) {
    for (const raw of Object.values(n.mappings)) {
      const m = parseMapping(raw);
      if (m?.kind === "output") out.add(`${m.node}:${m.name}`);
    }
  }
  return out;
}

/**
 * Static wait cycles in Executing: each node's gets and sets in script order form a chain (a get blocks what follows
 * it); a set reaches every get of the same key on other nodes. A cycle through two or more nodes is a deadlock.
 */
function waitCycles(all: Op[], waitsFor: (slot: string) => string[] | "has-value"): RunCheckFinding[] {
  const order = new Map<string, number>(EXECUTING_TARGETS.map((t, i) => [t, i]));
  const ops = all
    .filter((o) => order.has(o.target))
    .sort(
      (a, b) =>
        a.node.localeCompare(b.node) ||
        (order.get(a.target) as number) - (order.get(b.target) as number) ||
        a.line - b.line,
    );
  // edge u → v: v cannot happen before u
  const next: number[][] = ops.map(() => []);
  for (let i = 0; i + 1 < ops.length; i++) if (ops[i].node === ops[i + 1].node) next[i].push(i + 1);
  ops.forEach((get, g) => {
    if (get.kind !== "get") return;
    const producers = waitsFor(get.slot);
    if (producers === "has-value") return;
    ops.forEach((set, s) => {
      if (set.kind === "set" && set.node !== get.node && producers.includes(set.slot)) next[s].push(g);
    });
  });
  const findings: RunCheckFinding[] = [];
  const reported = new Set<string>();
  for (const scc of stronglyConnected(next)) {
    const members = [...scc].sort((x, y) => x - y).map((i) => ops[i]);
    const nodesIn = [...new Set(members.map((o) => o.node))].sort();
    if (nodesIn.length < 2 || reported.has(nodesIn.join(","))) continue;
    reported.add(nodesIn.join(","));
    const parts = nodesIn.map((n) => {
      const mine = members.filter((o) => o.node === n);
      const get = mine.find((o) => o.kind === "get") as Op;
      const set = mine.filter((o) => o.kind === "set").at(-1);
      return `${n} waits for ${get.slot} (${get.target} line ${get.line})${set ? ` before it sets ${set.slot} (${set.target} line ${set.line})` : ""}`;
    });
    const first = members.find((o) => o.kind === "get") as Op;
    findings.push({
      severity: "error",
      node: first.node,
      target: first.target,
      line: first.line,
      key: first.key,
      message: `static wait cycle between ${nodesIn.join(" and ")}: ${parts.join("; ")}`,
    });
  }
  return findings;
}

/** Tarjan's strongly connected components, iteratively (a script of thousands of lines must not overflow the stack). */
function stronglyConnected(next: number[][]): number[][] {
  const index = new Array<number>(next.length).fill(-1);
  const low = new Array<number>(next.length).fill(0);
  const onStack = new Array<boolean>(next.length).fill(false);
  const stack: number[] = [];
  const out: number[][] = [];
  let counter = 0;
  for (let root = 0; root < next.length; root++) {
    if (index[root] >= 0) continue;
    const work: [number, number][] = [[root, 0]];
    while (work.length) {
      const frame = work[work.length - 1];
      const [v, k] = frame;
      if (k === 0) {
        index[v] = low[v] = counter++;
        stack.push(v);
        onStack[v] = true;
      }
      if (k < next[v].length) {
        frame[1]++;
        const w = next[v][k];
        if (index[w] < 0) work.push([w, 0]);
        else if (onStack[w]) low[v] = Math.min(low[v], index[w]);
        continue;
      }
      work.pop();
      if (work.length) low[work[work.length - 1][0]] = Math.min(low[work[work.length - 1][0]], low[v]);
      if (low[v] === index[v]) {
        const scc: number[] = [];
        let w: number;
        do {
          w = stack.pop() as number;
          onStack[w] = false;
          scc.push(w);
        } while (w !== v);
        out.push(scc);
      }
    }
  }
  return out;
}
