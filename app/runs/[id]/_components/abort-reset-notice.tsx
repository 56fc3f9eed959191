"use client";

import { useRef, useState } from "react";
import { type AbortNews, abortResetsAfter } from "@/app/lib/aborted-kept";
import { abortResetEvents, foldEvents } from "@/app/lib/event-views";
import { formatTime } from "@/app/lib/format";
import type { RunEvent } from "@/protocol/run";

/**
 * Tells everyone watching that the abort was reset and by whom, when it happens while they watch (the banner of
 * the abort goes away at the same moment, which alone would go unnoticed). Resets before the page opened are in
 * the events log.
 */
export function AbortResetNotice({ events, lastSeq }: { events: readonly RunEvent[]; lastSeq: number }) {
  // the run as first loaded marks "before this page": only later resets are news
  const since = useRef(lastSeq);
  const [dismissed, setDismissed] = useState(0);
  const news: AbortNews | undefined = abortResetsAfter(
    foldEvents(events, abortResetEvents),
    Math.max(since.current, dismissed),
  ).at(-1);
  if (!news) return null;
  return (
    <div className="alert alert-info abort-reset-notice" role="alert" data-testid="abort-reset-notice">
      <span>
        The abort was reset by <strong>{news.by}</strong> at {formatTime(news.at)}: recipes can read and write
        parameters again.
      </span>{" "}
      <button type="button" className="button small" onClick={() => setDismissed(news.seq)}>
        Dismiss
      </button>
    </div>
  );
}
