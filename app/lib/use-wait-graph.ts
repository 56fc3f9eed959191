"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { API } from "@/protocol/catalog";
import type { WaitGraph } from "@/protocol/wait-graph";
import { call } from "./api";
import { newerGraph, waitGraphKey } from "./wait-graph-cache";

/** A run's wait-for graph, live: fetched once, then the `run:waits` pushes (app/lib/live.ts) replace it. */
export function useWaitGraph(id: string) {
  const qc = useQueryClient();
  return useQuery({
    queryKey: waitGraphKey(id),
    queryFn: async () =>
      newerGraph(qc.getQueryData<WaitGraph>(waitGraphKey(id)), await call(API.runWaits, { params: { id } })),
    staleTime: Number.POSITIVE_INFINITY,
  });
}

/**
 * The server's clock now, ticking each second while `on`: waits' durations are counted from the graph's `at`
 * (taken by the server), so a browser whose clock is off still shows how long each wait has lasted.
 */
export function useServerNow(graph: WaitGraph | undefined, on: boolean): number {
  const [, setTick] = useState(0);
  const [received, setReceived] = useState(() => ({ at: graph?.at, local: Date.now() }));
  if (graph && graph.at !== received.at) setReceived({ at: graph.at, local: Date.now() });
  useEffect(() => {
    if (!on) return;
    // a display clock for the durations, not a poll: nothing is asked of the server
    let t: ReturnType<typeof setTimeout>;
    const next = () => {
      setTick((n) => n + 1);
      t = setTimeout(next, 1000);
    };
    t = setTimeout(next, 1000);
    return () => clearTimeout(t);
  }, [on]);
  if (!graph) return Date.now();
  return Date.parse(graph.at) + (Date.now() - received.local);
}
