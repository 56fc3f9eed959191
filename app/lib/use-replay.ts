"use client";

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useCallback, useMemo } from "react";
import { API } from "@/protocol/catalog";
import type { ReportInfo, RunDetail, RunEvent, RuntimeParam } from "@/protocol/run";
import type { RunReplay } from "@/protocol/run-replay";
import { call } from "./api";

/** What a panel reads of a query: its data, or why there is none. */
export interface Loaded<T> {
  data: T | undefined;
  isError: boolean;
  error: Error | null;
}

/** The moment `?at=<seq>` names, or null for live (a missing or malformed value). */
export function atFromQuery(value: string | null): number | null {
  if (value === null || !/^\d{1,15}$/.test(value)) return null;
  return Number(value);
}

/**
 * The run page at a past event (`?at=<seq>`) or live: the server replays detail, parameters and reports from the
 * event log; events and logs are the page's own event list cut at that seq. `go(null)` returns to live.
 */
export function useReplay(
  id: string,
  live: {
    params: Loaded<{ params: RuntimeParam[] }>;
    reports: Loaded<ReportInfo[]>;
    events: RunEvent[];
  },
) {
  const search = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const at = atFromQuery(search.get("at"));
  const replay = useQuery({
    queryKey: ["run", id, "replay", at],
    queryFn: () => call(API.replayRun, { params: { id }, query: { at: at ?? 0 } }),
    enabled: at !== null,
    // the slider moves through moments: the last one stays on screen until the next arrives
    placeholderData: keepPreviousData,
    // a past moment never changes
    staleTime: Number.POSITIVE_INFINITY,
  });
  const go = useCallback(
    (seq: number | null) => {
      const next = new URLSearchParams(search.toString());
      if (seq === null) next.delete("at");
      else next.set("at", String(seq));
      const qs = next.toString();
      router.replace(qs ? `${pathname}?${qs}` : pathname, { scroll: false });
    },
    [search, router, pathname],
  );
  const shown: RunReplay | undefined = at === null ? undefined : replay.data;
  const events = useMemo(
    () => (shown ? live.events.filter((e) => e.seq <= shown.at) : live.events),
    [shown, live.events],
  );
  if (at === null) {
    const none: RunDetail | undefined = undefined;
    return {
      at,
      go,
      replay: undefined,
      error: null,
      detail: none,
      params: live.params,
      reports: live.reports,
      events: live.events,
    };
  }
  return {
    at,
    go,
    replay: shown,
    error: replay.error,
    detail: shown?.detail,
    params: { data: shown ? { params: shown.params } : undefined, isError: replay.isError, error: replay.error },
    reports: { data: shown?.reports, isError: replay.isError, error: replay.error },
    events,
  };
}
