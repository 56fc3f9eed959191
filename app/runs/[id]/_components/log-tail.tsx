import { useDeferredValue, useId, useMemo, useState } from "react";
import { foldEvents, instanceLogs, lastItems } from "@/app/lib/event-views";
import { formatBytes } from "@/app/lib/format";
import { searchInstances } from "@/app/lib/large-run";
import { useStickToBottom } from "@/app/lib/use-stick-to-bottom";
import type { RunEvent } from "@/protocol/run";
import { Section } from "./section";

/** One instance's output as it streams in, each target headed, with a marker where over-limit bytes were dropped. */
export function LogOutput({ events, instance }: { events: readonly RunEvent[]; instance: string }) {
  // kept per batch for every instance: switching instances or a batch of parameters passes over no event list
  const logs = foldEvents(events, instanceLogs);
  const own = logs.chunks.get(instance);
  const chunks = useMemo(() => (own ? lastItems(own) : []), [own]);
  // the latest "bytes dropped" marker of this instance: its log's head ends at afterSeq, the tail follows
  const dropped = logs.dropped.get(instance) ?? null;
  const scroll = useStickToBottom(chunks.length + instance);
  let lastTarget = "";
  return (
    <section
      className="log-scroll"
      ref={scroll.ref}
      onScroll={scroll.onScroll}
      // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling box must be reachable by keyboard
      tabIndex={0}
      aria-label={`Log of ${instance}`}
    >
      {chunks.length === 0 ? (
        <p className="muted log-empty">
          No output from {instance || "this instance"} yet. Its recipes' output appears here as they run.
        </p>
      ) : (
        <pre className="log" data-testid="log-output">
          {chunks.map((e, k) => {
            const header = e.body.target !== lastTarget ? e.body.target : null;
            lastTarget = e.body.target;
            const gap = dropped && e.seq > dropped.afterSeq && (k === 0 || chunks[k - 1].seq <= dropped.afterSeq);
            return (
              <span key={e.seq}>
                {gap && (
                  <span className="log-dropped" data-testid="log-dropped">
                    {`\n… ${formatBytes(dropped.bytes)} dropped here: over the log limit of this instance, its start and its end are kept (the whole log is in its report) …\n\n`}
                  </span>
                )}
                {header && <span className="log-target">{`── ${header} ──\n`}</span>}
                <span className={`log-${e.body.stream}`}>{e.body.data}</span>
              </span>
            );
          })}
        </pre>
      )}
    </section>
  );
}

/**
 * The log of one instance, picked by typing part of its name: a large run's sixty instances are a search away,
 * not a scroll through a long drop-down.
 */
export function LogTail({ events, instances }: { events: readonly RunEvent[]; instances: string[] }) {
  const uid = useId();
  const [chosen, setChosen] = useState<string | null>(null);
  const [query, setQuery] = useState("");
  const deferred = useDeferredValue(query);
  const matching = useMemo(() => searchInstances(instances, deferred), [instances, deferred]);
  // what was typed picks the best match unless the instance picked in the drop-down matches too; nothing
  // matching keeps the log shown
  const instance =
    chosen !== null && matching.includes(chosen) ? chosen : (matching[0] ?? chosen ?? instances[0] ?? "");
  const chunksOf = foldEvents(events, instanceLogs).chunks;
  const options = useMemo(
    () => (matching.includes(instance) ? matching : [instance, ...matching]),
    [matching, instance],
  );
  // a 1,000-instance run's options: built again when a log chunk arrives or the choice changes, not per batch
  const optionList = useMemo(() => {
    const counts = { get: (i: string) => chunksOf.get(i)?.length };
    return options.map((i) => (
      <option key={i} value={i}>
        {i} {counts.get(i) ? `(${counts.get(i)})` : ""}
      </option>
    ));
  }, [options, chunksOf]);
  return (
    <Section
      title="Logs"
      id={`${uid}-logs`}
      className="logs-section"
      actions={
        <div className="log-picker">
          {instances.length > 1 && (
            <label className="field inline compact">
              <span>Find</span>
              <input
                type="search"
                value={query}
                placeholder="instance name"
                onChange={(e) => setQuery(e.target.value)}
                aria-describedby={`${uid}-log-matches`}
                data-testid="log-search"
              />
            </label>
          )}
          <label className="field inline compact">
            <span>Instance</span>
            <select value={instance} onChange={(e) => setChosen(e.target.value)} data-testid="log-instance">
              {optionList}
            </select>
          </label>
          {instances.length > 1 && (
            <span id={`${uid}-log-matches`} className="muted small" aria-live="polite" data-testid="log-matches">
              {query.trim()
                ? matching.length === 0
                  ? `no instance matches “${query.trim()}”`
                  : `${matching.length} of ${instances.length} match`
                : `${instances.length} instances`}
            </span>
          )}
        </div>
      }
    >
      <LogOutput events={events} instance={instance} />
    </Section>
  );
}
