/**
 * The wait-for graph of a run (issue 16): who waits for which key of whom, and whether the run is stuck. Pure: the
 * server hands in the blocked waits, the instances' status and the run's nodes; it decides when to ask.
 */

import { parseKey } from "../protocol/keys.js";
import type { RunState } from "../protocol/run.js";
import type { WaitDiagnosis, WaitEdge } from "../protocol/wait-graph.js";
import { parseMapping } from "./module-refs.js";
import { isServerOwnedKey } from "./params.js";
import type { RunNodeSpec } from "./run-spec.js";

export interface WaitFact {
  instance: string;
  key: string;
  /** when the wait started, epoch ms */
  since: number;
}

export interface InstanceFact {
  name: string;
  /** still part of the run: not removed by a scale, not failed to start, not lost */
  live: boolean;
  /** completed the current barrier state: its script for it has ended */
  completed: boolean;
  lost: boolean;
  /** its own `abort` key is set */
  aborted: boolean;
}

export interface WaitGraphInput {
  state: RunState;
  nodes: readonly Pick<RunNodeSpec, "name" | "image" | "mappings">[];
  instances: readonly InstanceFact[];
  waits: readonly WaitFact[];
}

export type Edge = Omit<WaitEdge, "since"> & { since: number };

/** The states whose end waits for every instance's script: outside them a wait is not a sign of a stuck run. */
const DIAGNOSED: Readonly<Partial<Record<RunState, string>>> = {
  Provisioning: "provisioning",
  Executing: "execute",
  SendingReports: "report",
};

/**
 * What should set `key`: the instance owning it, or for an input mapped from another node's output that output's
 * owner (mappings read the node's first instance, as core/params.ts pushes them); an unmapped input is set by a
 * person, a key only the server writes by the server.
 */
export function producerOf(key: string, nodes: WaitGraphInput["nodes"]): Pick<Edge, "to" | "producer" | "via"> {
  const parsed = parseKey(key);
  if (!parsed) return { to: "person", producer: "person", via: null };
  if (isServerOwnedKey(parsed)) return { to: "server", producer: "server", via: null };
  if (parsed.kind !== "instance") return { to: "person", producer: "person", via: null };
  const node = nodes.find((n) => n.name === parsed.node);
  const param = node?.image.parameters.find((p) => p.name === parsed.name);
  if (node && param?.category === "input") {
    const raw = Object.hasOwn(node.mappings, parsed.name) ? node.mappings[parsed.name] : undefined;
    const mapping = raw ? parseMapping(raw) : null;
    if (mapping?.kind !== "output") return { to: "person", producer: "person", via: null };
    return { to: `${mapping.node}.1`, producer: "instance", via: `${mapping.node}.1:${mapping.name}` };
  }
  return { to: `${parsed.node}.${parsed.index}`, producer: "instance", via: null };
}

/** One edge per instance and key (a get-all or a retried request waits more than once), the oldest wait's start. */
function edgesOf(input: WaitGraphInput, live: ReadonlySet<string>): Edge[] {
  const byPair = new Map<string, Edge>();
  for (const w of input.waits) {
    if (!live.has(w.instance)) continue;
    const id = `${w.instance}\n${w.key}`;
    const seen = byPair.get(id);
    if (seen) seen.since = Math.min(seen.since, w.since);
    else byPair.set(id, { from: w.instance, key: w.key, ...producerOf(w.key, input.nodes), since: w.since });
  }
  return [...byPair.values()].sort((a, b) => a.since - b.since || a.from.localeCompare(b.from));
}

const waitText = (e: Edge) => `${e.from} waits for ${e.key}${e.via ? ` (set from ${e.via})` : ""}`;
const keysOf = (edges: Edge[]) => [...new Set(edges.flatMap((e) => (e.via ? [e.key, e.via] : [e.key])))];
const instancesOf = (edges: Edge[]) => [...new Set(edges.flatMap((e) => [e.from, e.to]))];

/** Why an instance will never set a key any more, or null while it still may. */
function deadReason(inst: InstanceFact | undefined, target: string): string | null {
  if (!inst) return "is not part of the run";
  if (inst.lost) return "was lost";
  if (!inst.live) return "has left the run";
  if (inst.aborted) return "aborted";
  if (inst.completed) return `finished its ${target}`;
  return null;
}

/** The edges and, in a state that waits for every script, whether the run is stuck and why, in one sentence. */
export function analyseWaits(input: WaitGraphInput): { edges: Edge[]; diagnosis: WaitDiagnosis | null } {
  const byName = new Map(input.instances.map((i) => [i.name, i]));
  const live = new Set(input.instances.filter((i) => i.live).map((i) => i.name));
  const edges = edgesOf(input, live);
  const target = DIAGNOSED[input.state];
  if (target === undefined || edges.length === 0) return { edges, diagnosis: null };

  // a dead producer is reported whatever the others do: nothing in the run will set its key
  const dead = new Map<string, { reason: string; edges: Edge[] }>();
  for (const e of edges) {
    if (e.producer !== "instance" || e.to === e.from) continue;
    const reason = deadReason(byName.get(e.to), target);
    if (reason === null) continue;
    const entry = dead.get(e.to) ?? { reason, edges: [] };
    entry.edges.push(e);
    dead.set(e.to, entry);
  }
  if (dead.size > 0) {
    const clauses = [...dead].map(([producer, d]) => {
      const it = d.edges.length === 1 ? "it" : "them";
      return `${d.edges.map(waitText).join(" and ")}, but ${producer} ${d.reason} without setting ${it}`;
    });
    const all = [...dead.values()].flatMap((d) => d.edges);
    return {
      edges,
      diagnosis: {
        kind: "dead-producer",
        sentence: `${clauses.join("; ")}.`,
        instances: instancesOf(all),
        keys: keysOf(all),
      },
    };
  }

  // a deadlock: nobody left to set anything; every awaited producer is itself blocked, so the waits form a cycle
  const blocked = new Set(edges.map((e) => e.from));
  const everyoneStuck = [...live].every((name) => blocked.has(name) || byName.get(name)?.completed);
  const onlyBlockedProducers = edges.every((e) => e.producer === "instance" && blocked.has(e.to));
  if (!everyoneStuck || !onlyBlockedProducers) return { edges, diagnosis: null };
  return {
    edges,
    diagnosis: {
      kind: "deadlock",
      sentence: `Deadlock: ${edges.map(waitText).join(" and ")}, and no other instance can set ${edges.length === 1 ? "it" : "them"}.`,
      instances: instancesOf(edges),
      keys: keysOf(edges),
    },
  };
}

/** Whether two diagnoses say the same thing (the same kind over the same instances and keys). */
export function sameDiagnosis(a: WaitDiagnosis | null, b: WaitDiagnosis | null): boolean {
  if (a === null || b === null) return a === b;
  return a.kind === b.kind && a.sentence === b.sentence;
}
