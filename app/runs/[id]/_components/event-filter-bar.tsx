import { memo, useId, useMemo } from "react";
import { foldEvents, kindCounts } from "@/app/lib/event-views";
import { type EventFilter, isFiltering, NO_EVENT_FILTER } from "@/app/lib/large-run";
import type { RunEvent } from "@/protocol/run";

/**
 * Narrows the event log to one instance, one kind and some words, over the events already loaded: new events keep
 * arriving and show when they match.
 */
export const EventFilterBar = memo(function EventFilterBar({
  filter,
  onChange,
  events,
  instances,
  unknownInstance,
  shown,
}: {
  filter: EventFilter;
  onChange: (f: EventFilter) => void;
  events: readonly RunEvent[];
  instances: readonly string[];
  unknownInstance: boolean;
  shown: number;
}) {
  const uid = useId();
  // the kinds change only when a new kind appears: counted again per render of the bar, not per event row
  const counts = foldEvents(events, kindCounts);
  const kinds = useMemo(
    () =>
      [...counts]
        .filter(([kind]) => kind !== "log")
        .map(([kind, n]) => ({ kind, n }))
        .sort((a, b) => a.kind.localeCompare(b.kind)),
    [counts],
  );
  // a 1,000-instance run's names: built once, not per live batch
  const instanceOptions = useMemo(() => instances.map((i) => <option key={i} value={i} />), [instances]);
  const set = (part: Partial<EventFilter>) => onChange({ ...filter, ...part });
  return (
    <fieldset className="event-filter" data-testid="event-filter">
      <legend className="visually-hidden">Filter the events</legend>
      <label className="field inline compact">
        <span>Instance</span>
        <input
          type="search"
          list={`${uid}-instances`}
          value={filter.instance}
          placeholder="all"
          onChange={(e) => set({ instance: e.target.value.trim() })}
          aria-invalid={unknownInstance || undefined}
          aria-describedby={`${uid}-status`}
          data-testid="event-filter-instance"
        />
        <datalist id={`${uid}-instances`}>{instanceOptions}</datalist>
      </label>
      <label className="field inline compact">
        <span>Kind</span>
        <select value={filter.kind} onChange={(e) => set({ kind: e.target.value })} data-testid="event-filter-kind">
          <option value="">all</option>
          {kinds.map((k) => (
            <option key={k.kind} value={k.kind}>
              {k.kind} ({k.n})
            </option>
          ))}
        </select>
      </label>
      <label className="field inline compact">
        <span>Text</span>
        <input
          type="search"
          value={filter.text}
          placeholder="words in the event"
          onChange={(e) => set({ text: e.target.value })}
          data-testid="event-filter-text"
        />
      </label>
      {isFiltering(filter) && (
        <button type="button" className="button small" onClick={() => onChange(NO_EVENT_FILTER)}>
          Clear
        </button>
      )}
      <span id={`${uid}-status`} className="muted small" aria-live="polite" data-testid="event-filter-status">
        {unknownInstance
          ? `no instance is named “${filter.instance}”: showing every instance`
          : isFiltering(filter)
            ? `${shown} matching`
            : ""}
      </span>
    </fieldset>
  );
});
