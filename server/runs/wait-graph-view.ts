import { analyseWaits, type Edge } from "../../core/wait-graph.js";
import type { WaitGraph } from "../../protocol/wait-graph.js";
import type { RunRuntime } from "./runtime.js";

/** The run's wait-for graph now: its blocked waits, what should answer each, and whether the run is stuck. */
export function waitGraphOf(rt: RunRuntime, now = Date.now()): WaitGraph {
  const ctx = rt.snapshot.context.instances;
  const instances = [...rt.instances.values()].map((i) => ({
    name: i.name,
    live: ctx.get(i.name)?.live ?? false,
    completed: ctx.get(i.name)?.completed ?? false,
    lost: rt.lost.has(i.name),
    aborted: (rt.params.get(`${i.name}:abort`)?.value ?? null) !== null,
  }));
  const { edges, diagnosis } = analyseWaits({
    state: rt.state,
    nodes: rt.spec.nodes,
    instances,
    waits: rt.terminal ? [] : rt.waiters.list(),
  });
  return {
    runId: rt.id,
    seq: rt.lastSeq,
    at: new Date(now).toISOString(),
    edges: edges.map((e: Edge) => ({ ...e, since: new Date(e.since).toISOString() })),
    diagnosis,
  };
}
