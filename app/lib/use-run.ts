"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { API } from "@/protocol/catalog";
import type { RunEvent } from "@/protocol/run";
import { useLive } from "../providers";
import { call } from "./api";
import { foldDetail, foldParams, foldReports, runKeys } from "./run-cache";

const EMPTY: RunEvent[] = [];
/**
 * Folds replace what changed and keep every other object as it was, so react-query's deep comparison of old and new
 * data (structural sharing) finds nothing to share: on a 1,000-instance run it walked 35,000 events and 23,000
 * parameters per live batch.
 */
const FOLDED = { staleTime: Number.POSITIVE_INFINITY, structuralSharing: false } as const;
const NOBODY: string[] = [];

/** Tells the live feed that the page has rendered what it was given (call it in the component that shows it). */
export function useRenderedReport(id: string): void {
  const live = useLive();
  // after every commit: the feed waits for one after each batch it flushed
  useEffect(() => live.rendered(id));
}

/**
 * Everything the run page shows: REST snapshots (detail, parameters, reports) with the pushed events folded in,
 * the event list itself (replayed from the start on subscribe, then live), and who is watching.
 */
export function useRun(id: string) {
  const live = useLive();
  const qc = useQueryClient();
  useEffect(() => live.followRun(id), [live, id]);

  const cachedEvents = () => qc.getQueryData<RunEvent[]>(runKeys.events(id)) ?? EMPTY;
  const events = useQuery({
    queryKey: runKeys.events(id),
    queryFn: cachedEvents,
    initialData: EMPTY,
    ...FOLDED,
  });
  const detail = useQuery({
    queryKey: runKeys.detail(id),
    queryFn: async () => foldDetail(await call(API.getRun, { params: { id } }), cachedEvents()),
    ...FOLDED,
  });
  const params = useQuery({
    queryKey: runKeys.params(id),
    queryFn: async () => foldParams(await call(API.runParams, { params: { id } }), cachedEvents()),
    ...FOLDED,
    enabled: detail.isSuccess,
  });
  const reports = useQuery({
    queryKey: runKeys.reports(id),
    queryFn: async () => foldReports((await call(API.runReports, { params: { id } })).reports, cachedEvents()),
    ...FOLDED,
    enabled: detail.isSuccess,
  });
  const watchers = useQuery({
    queryKey: runKeys.watchers(id),
    queryFn: () => qc.getQueryData<string[]>(runKeys.watchers(id)) ?? NOBODY,
    initialData: NOBODY,
    staleTime: Number.POSITIVE_INFINITY,
  });
  const module = useQuery({
    queryKey: ["module", detail.data?.module],
    queryFn: () => call(API.getModule, { params: { path: detail.data?.module ?? "" }, query: {} }),
    enabled: !!detail.data?.module,
    retry: false,
    staleTime: 60_000,
  });
  return { detail, params, reports, events: events.data, watchers: watchers.data, module };
}
