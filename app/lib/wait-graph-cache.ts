import type { WaitGraph } from "@/protocol/wait-graph";

/** Where a run's wait-for graph is cached: fetched once (GET /api/runs/:id/waits), then replaced by each push. */
export const waitGraphKey = (id: string) => ["run", id, "waits"] as const;

/**
 * The later of two graphs of one run: the fetch and a push may arrive in either order. Seq first (a graph taken
 * after more events is newer), then the server's clock (waits change without events).
 */
export function newerGraph(a: WaitGraph | undefined, b: WaitGraph): WaitGraph {
  if (!a) return b;
  if (a.seq !== b.seq) return a.seq > b.seq ? a : b;
  return Date.parse(a.at) > Date.parse(b.at) ? a : b;
}
