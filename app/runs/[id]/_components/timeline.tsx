import { foldEvents, stateEvents } from "@/app/lib/event-views";
import { actorName, describeEvent, formatDuration, formatTime } from "@/app/lib/format";
import { STATE_ORDER } from "@/app/lib/run-views";
import { type RunEvent, type RunState, TERMINAL_STATES } from "@/protocol/run";

export function Timeline({ events, state }: { events: readonly RunEvent[]; state: RunState }) {
  const transitions = foldEvents(events, stateEvents);
  const reached = new Map<RunState, RunEvent>();
  for (const e of transitions) if (e.body.type === "state" && !reached.has(e.body.to)) reached.set(e.body.to, e);
  const end: RunState = state === "Aborted" || state === "Cancelled" ? state : "Done";
  const steps: RunState[] = ["Initializing", "Provisioning", "Executing", "SendingReports", "Ready", "Finalizing", end];
  const at = (s: RunState) => reached.get(s)?.at;
  return (
    <div className="timeline-wrap">
      <ol className="timeline" aria-label="State timeline">
        {steps.map((s, i) => {
          const e = reached.get(s);
          const isCurrent = s === state;
          const next = steps.slice(i + 1).find((x) => reached.has(x));
          const duration = e && next ? formatDuration(Date.parse(at(next)!) - Date.parse(e.at)) : "";
          const cls = isCurrent
            ? TERMINAL_STATES.includes(s)
              ? `current final final-${s}`
              : "current"
            : e
              ? "done"
              : reached.size && (STATE_ORDER.get(s) ?? 0) < (STATE_ORDER.get(state) ?? 0)
                ? "skipped"
                : "todo";
          return (
            <li key={s} className={`step ${cls}`} aria-current={isCurrent ? "step" : undefined} data-step={s}>
              <span className="step-dot" aria-hidden="true" />
              <span className="step-name">{s}</span>
              <span className="step-time">{e ? formatTime(e.at) : cls === "skipped" ? "skipped" : ""}</span>
              {duration && <span className="step-duration">{duration}</span>}
            </li>
          );
        })}
      </ol>
      <details className="transitions">
        <summary>All {transitions.length} transitions</summary>
        <ul>
          {transitions.map((e) => (
            <li key={e.seq}>
              <span className="mono muted">{formatTime(e.at)}</span> {describeEvent(e)}{" "}
              <span className="muted">by {actorName(e.actor).name}</span>
            </li>
          ))}
        </ul>
      </details>
    </div>
  );
}
