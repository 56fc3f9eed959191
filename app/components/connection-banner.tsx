"use client";

import { type Query, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from "react";
import { ApiFailure } from "../lib/api";
import { formatTime } from "../lib/format";
import { useLive } from "../providers";

/** A socket blip this short is not worth a banner; past it, the page says it is cut off (well within 5 s). */
const OFFLINE_GRACE_MS = 1500;

/** A query this page shows that failed for want of a connection (not one the server refused). */
const unreachable = (q: Query) =>
  q.getObserversCount() > 0 &&
  q.state.status === "error" &&
  q.state.error instanceof ApiFailure &&
  q.state.error.status === 0;

/** Whether any query of the page failed because the server could not be reached. */
function useQueriesUnreachable(): boolean {
  const qc = useQueryClient();
  const cache = qc.getQueryCache();
  return useSyncExternalStore(
    useCallback((l: () => void) => cache.subscribe(l), [cache]),
    () => cache.getAll().some(unreachable),
    () => false,
  );
}

/**
 * Says, on every page, that the server cannot be reached: a request failed for want of a connection, or the live
 * socket has been down past a short grace. Live updates are paused until it is back; the socket reconnects by
 * itself and Retry tries at once. When the connection returns, what failed meanwhile is fetched again.
 */
export function ConnectionBanner() {
  const live = useLive();
  const qc = useQueryClient();
  const status = useSyncExternalStore(
    live.onStatus,
    () => live.status,
    () => "idle" as const,
  );
  const failed = useQueriesUnreachable();
  const [socketDown, setSocketDown] = useState(false);
  const lastGood = useRef<string>(new Date().toISOString());
  const [retrying, setRetrying] = useState(false);

  // every signed-in page holds the socket, so a page that fetches nothing more still hears the server go away
  useEffect(() => {
    live.uiSocket();
  }, [live]);

  useEffect(() => {
    if (status === "online") {
      lastGood.current = new Date().toISOString();
      setSocketDown(false);
      // back: what failed while away is asked again (pushed news is replayed by the socket itself)
      qc.refetchQueries({ predicate: unreachable });
      return;
    }
    if (status !== "offline") return;
    const t = setTimeout(() => setSocketDown(true), OFFLINE_GRACE_MS);
    return () => clearTimeout(t);
  }, [status, qc]);

  if (!socketDown && !failed) return null;
  const retry = async () => {
    setRetrying(true);
    live.retryNow();
    try {
      await qc.refetchQueries({ predicate: (q) => q.getObserversCount() > 0 && q.state.status === "error" });
    } finally {
      setRetrying(false);
    }
  };
  return (
    <div className="offline-banner" role="alert" data-testid="offline-banner">
      <span>
        <strong>Cannot reach the SlipStream server.</strong> Live updates paused; what you see is as of{" "}
        {formatTime(lastGood.current)}. It reconnects by itself when the server is back.
      </span>
      <button type="button" className="button small" onClick={retry} disabled={retrying}>
        {retrying ? "Retrying…" : "Retry"}
      </button>
    </div>
  );
}
