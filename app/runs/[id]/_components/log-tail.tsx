import { useId, useMemo, useState } from "react";
import { formatBytes } from "@/app/lib/format";
import { useStickToBottom } from "@/app/lib/use-stick-to-bottom";
import type { RunEvent } from "@/protocol/run";
import { Section } from "./section";

export function LogTail({ events, instances }: { events: readonly RunEvent[]; instances: string[] }) {
  const uid = useId();
  const [chosen, setChosen] = useState<string | null>(null);
  const instance = chosen ?? instances[0] ?? "";
  const chunks = useMemo(
    () =>
      events.filter(
        (e): e is RunEvent & { body: Extract<RunEvent["body"], { type: "log" }> } =>
          e.body.type === "log" && e.body.instance === instance,
      ),
    [events, instance],
  );
  // the latest "bytes dropped" marker of this instance: its log's head ends at afterSeq, the tail follows
  const dropped = useMemo(() => {
    for (let k = events.length - 1; k >= 0; k--) {
      const b = events[k].body;
      if (b.type === "log-dropped" && b.instance === instance) return b;
    }
    return null;
  }, [events, instance]);
  const scroll = useStickToBottom(chunks.length + instance);
  const counts = useMemo(() => {
    const c = new Map<string, number>();
    for (const e of events) if (e.body.type === "log") c.set(e.body.instance, (c.get(e.body.instance) ?? 0) + 1);
    return c;
  }, [events]);
  let lastTarget = "";
  return (
    <Section
      title="Logs"
      id={`${uid}-logs`}
      className="logs-section"
      actions={
        <label className="field inline compact">
          <span>Instance</span>
          <select value={instance} onChange={(e) => setChosen(e.target.value)} data-testid="log-instance">
            {instances.map((i) => (
              <option key={i} value={i}>
                {i} {counts.get(i) ? `(${counts.get(i)})` : ""}
              </option>
            ))}
          </select>
        </label>
      }
    >
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
    </Section>
  );
}
