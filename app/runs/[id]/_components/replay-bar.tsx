"use client";

import { useQuery } from "@tanstack/react-query";
import { useEffect, useId, useMemo, useRef, useState } from "react";
import { Link } from "@/app/components/link";
import { call } from "@/app/lib/api";
import { foldEvents, stateEvents } from "@/app/lib/event-views";
import { formatDateTime, shortId } from "@/app/lib/format";
import { API } from "@/protocol/catalog";
import type { RunEvent } from "@/protocol/run";
import type { RunReplay } from "@/protocol/run-replay";
import "../../replay.css";

/** How long the slider rests before the page asks for that moment: dragging asks once, not at every step. */
const SETTLE_MS = 150;

/** Another run of the same module to compare this one with, chosen from the latest runs of that module. */
function CompareWith({ runId, module }: { runId: string; module: string }) {
  const [open, setOpen] = useState(false);
  const [other, setOther] = useState("");
  const selectId = useId();
  const runs = useQuery({
    queryKey: ["runs", "same-module", module],
    queryFn: () => call(API.listRuns, { query: { module, limit: 50 } }),
    enabled: open,
  });
  const choices = (runs.data?.runs ?? []).filter((r) => r.module === module && r.id !== runId);
  if (!open) {
    return (
      <button type="button" className="button" onClick={() => setOpen(true)}>
        Compare with…
      </button>
    );
  }
  return (
    <div className="compare-with">
      <label htmlFor={selectId} className="small">
        Compare with
      </label>
      <select id={selectId} value={other} onChange={(e) => setOther(e.target.value)} disabled={!choices.length}>
        <option value="">
          {runs.isPending ? "Loading…" : choices.length ? "a run of this module" : "no other run"}
        </option>
        {choices.map((r) => (
          <option key={r.id} value={r.id}>
            {shortId(r.id)} · {r.state} · {r.owner} · {formatDateTime(r.createdAt)}
          </option>
        ))}
      </select>
      {other ? (
        <Link className="button primary" href={`/runs/compare?a=${runId}&b=${other}`}>
          Compare
        </Link>
      ) : null}
      <button type="button" className="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
    </div>
  );
}

/**
 * The time slider: every event of the run is a position, the right end is live. Arrow keys move the slider one
 * event; the buttons step one event or to the previous/next state change. Away from live, a banner says which
 * moment is shown and leads back.
 */
export function ReplayBar({
  runId,
  module,
  lastSeq,
  events,
  at,
  replay,
  error,
  go,
  online = true,
}: {
  runId: string;
  module: string;
  /** the run's last seq now (live) */
  lastSeq: number;
  /** the page's live event list (for the state-change marks) */
  events: readonly RunEvent[];
  /** the moment asked for (`?at=`), null when live */
  at: number | null;
  /** the server's answer for that moment (the previous one while the next loads) */
  replay: RunReplay | undefined;
  error: Error | null;
  go: (seq: number | null) => void;
  /** a run of this server (false: a snapshot file opened offline: no compare, no export) */
  online?: boolean;
}) {
  const sliderId = useId();
  const [dragged, setDragged] = useState<number | null>(null);
  const position = dragged ?? at ?? lastSeq;
  const max = Math.max(1, lastSeq);
  const transitions = foldEvents(events, stateEvents);
  const marks = useMemo(
    () => transitions.map((e) => ({ seq: e.seq, to: (e.body as { to: string }).to })),
    [transitions],
  );

  // the slider answers at once; the URL (and so the replayed moment) follows once it rests. `go` changes with the
  // URL: a ref keeps the timer from being re-armed (and the URL rewritten) by the very change it causes
  const goRef = useRef(go);
  goRef.current = go;
  useEffect(() => {
    if (dragged === null) return;
    const t = setTimeout(() => {
      if (dragged >= lastSeq && at === null) {
        setDragged(null);
        goRef.current(null);
      } else goRef.current(dragged);
    }, SETTLE_MS);
    return () => clearTimeout(t);
  }, [dragged, lastSeq, at]);
  // the slider lets go of its own value only once the URL holds it: before, `at` is still the previous moment
  useEffect(() => {
    if (dragged !== null && at === dragged) setDragged(null);
  }, [at, dragged]);

  const step = (seq: number) => go(Math.min(Math.max(seq, 1), max));
  const prevMark = [...marks].reverse().find((m) => m.seq < position);
  const nextMark = marks.find((m) => m.seq > position);
  const stateAt = [...marks].reverse().find((m) => m.seq <= position)?.to;
  const shownSeq = replay?.at ?? at;

  return (
    <section className="card replay-bar" aria-label="Replay">
      {at !== null ? (
        <div className="alert alert-warn replay-banner" role="status" data-testid="replay-banner">
          <span>
            Replaying at event <strong data-testid="replay-at">{shownSeq}</strong> of <strong>{lastSeq}</strong>
            {replay?.time ? ` (${formatDateTime(replay.time)})` : replay ? "" : " (loading…)"}
          </span>
          <button type="button" className="button primary" onClick={() => go(null)}>
            Back to live
          </button>
        </div>
      ) : null}
      {error ? (
        <p className="alert alert-abort" role="alert">
          This moment could not be replayed: {error.message}
        </p>
      ) : null}
      <div className="replay-controls">
        <button
          type="button"
          className="button"
          aria-label="Previous state change"
          title="Previous state change"
          disabled={!prevMark}
          onClick={() => prevMark && step(prevMark.seq)}
        >
          ◀◀
        </button>
        <button
          type="button"
          className="button"
          aria-label="Previous event"
          title="Previous event"
          disabled={position <= 1}
          onClick={() => step(position - 1)}
        >
          ◀
        </button>
        <label htmlFor={sliderId} className="visually-hidden">
          Moment of the run
        </label>
        <input
          id={sliderId}
          type="range"
          min={1}
          max={max}
          step={1}
          value={Math.min(position, max)}
          aria-valuetext={`event ${position} of ${lastSeq}${stateAt ? `, ${stateAt}` : ""}${at === null && dragged === null ? ", live" : ""}`}
          onChange={(e) => setDragged(Number(e.target.value))}
          data-testid="replay-slider"
        />
        <button
          type="button"
          className="button"
          aria-label="Next event"
          title="Next event"
          disabled={at === null || position >= lastSeq}
          onClick={() => step(position + 1)}
        >
          ▶
        </button>
        <button
          type="button"
          className="button"
          aria-label="Next state change"
          title="Next state change"
          disabled={at === null || !nextMark}
          onClick={() => nextMark && step(nextMark.seq)}
        >
          ▶▶
        </button>
        <span className="replay-position small muted">
          {at === null && dragged === null ? (
            <>
              <span className="live-dot" aria-hidden="true" />
              Live · event {lastSeq}
            </>
          ) : (
            `event ${position} of ${lastSeq}`
          )}
        </span>
        {at !== null ? (
          <button type="button" className="button" onClick={() => go(null)}>
            Live
          </button>
        ) : null}
        {online ? (
          <>
            <CompareWith runId={runId} module={module} />
            <a
              className="button"
              href={`/api/runs/${runId}/snapshot`}
              download={`${runId}_snapshot.json`}
              title="The run's whole history in one file, which /runs/snapshot opens offline"
            >
              Export snapshot
            </a>
          </>
        ) : null}
      </div>
    </section>
  );
}
