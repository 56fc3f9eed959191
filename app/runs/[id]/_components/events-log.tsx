import { memo, useDeferredValue, useId, useMemo, useState } from "react";
import { foldEvents, lastItems, listedEvents } from "@/app/lib/event-views";
import { actorName, describeEvent, formatTime } from "@/app/lib/format";
import { type EventFilter, filterEvents, isFiltering, NO_EVENT_FILTER } from "@/app/lib/large-run";
import { useStickToBottom } from "@/app/lib/use-stick-to-bottom";
import type { RunEvent } from "@/protocol/run";
import { EventFilterBar } from "./event-filter-bar";
import { Section } from "./section";

const EventRow = memo(function EventRow({ e }: { e: RunEvent }) {
  const a = actorName(e.actor);
  return (
    <li className={`event event-${e.body.type}`} data-type={e.body.type} data-seq={e.seq}>
      <time dateTime={e.at} className="mono">
        {formatTime(e.at)}
      </time>
      <span className={`actor actor-${a.kind}`} title={e.actor}>
        {a.name}
      </span>
      <span className="event-text">{describeEvent(e)}</span>
    </li>
  );
});

/** The newest events shown at first: a large run's thousands stay one click away, off the live render path. */
const RECENT_EVENTS = 1000;
/**
 * Past RECENT_EVENTS the oldest rows go this many at a time: a live batch in between only appends rows, which React
 * matches to the ones shown in order, where dropping a row per new one made it map every shown row's key again for
 * each batch (with the flash of each value, the long tasks of bench/RESULTS.md figure 6b).
 */
const TRIM_STEP = 250;

export function EventsLog({ events, instances = [] }: { events: readonly RunEvent[]; instances?: readonly string[] }) {
  const uid = useId();
  const [showParams, setShowParams] = useState(true);
  const [showAll, setShowAll] = useState(false);
  const [filter, setFilter] = useState<EventFilter>(NO_EVENT_FILTER);
  // typing stays responsive over thousands of events: the list follows a moment later
  const deferred = useDeferredValue(filter);
  const unknownInstance = deferred.instance !== "" && !instances.includes(deferred.instance);
  // unfiltered, a live batch costs what it adds: the listed events are kept per batch and only the newest
  // RECENT_EVENTS are copied out (a filter, asked for by the reader, passes over them all)
  const listed = foldEvents(events, listedEvents);
  const candidates = showParams ? listed.all : listed.noParams;
  const filtering = isFiltering(deferred);
  const matching = useMemo(
    () =>
      filtering
        ? filterEvents(lastItems(candidates), unknownInstance ? { ...deferred, instance: "" } : deferred, describeEvent)
        : null,
    [filtering, candidates, deferred, unknownInstance],
  );
  const total = matching ? matching.length : candidates.length;
  const hidden = showAll ? 0 : Math.floor(Math.max(0, total - RECENT_EVENTS) / TRIM_STEP) * TRIM_STEP;
  const shown = useMemo(
    () => (matching ? matching.slice(hidden) : lastItems(candidates, total - hidden)),
    [matching, candidates, hidden, total],
  );
  const scroll = useStickToBottom(total);
  return (
    <Section
      title="Events"
      id={`${uid}-events`}
      actions={
        <label className="check small">
          <input type="checkbox" checked={showParams} onChange={(e) => setShowParams(e.target.checked)} />
          Parameter changes
        </label>
      }
    >
      <EventFilterBar
        filter={filter}
        onChange={setFilter}
        events={events}
        instances={instances}
        unknownInstance={unknownInstance}
        shown={total}
      />
      <section
        // a full box is its own layout root: a batch's rows are laid out without the rest of the page
        className={shown.length > 20 ? "events-scroll full" : "events-scroll"}
        ref={scroll.ref}
        onScroll={scroll.onScroll}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling box must be reachable by keyboard
        tabIndex={0}
        aria-label="Event log"
      >
        {shown.length === 0 ? (
          <p className="muted">{isFiltering(deferred) ? "No event matches the filter." : "No events yet."}</p>
        ) : (
          <>
            {hidden > 0 && (
              <button type="button" className="button small show-earlier" onClick={() => setShowAll(true)}>
                Show {hidden} earlier event{hidden === 1 ? "" : "s"}
              </button>
            )}
            <ol className="events" data-testid="events-log">
              {shown.map((e) => (
                <EventRow key={e.seq} e={e} />
              ))}
            </ol>
          </>
        )}
      </section>
    </Section>
  );
}
