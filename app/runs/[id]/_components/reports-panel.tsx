import { memo, useId, useMemo, useState } from "react";
import { foldEvents, scaleEvents } from "@/app/lib/event-views";
import { formatBytes, formatTime } from "@/app/lib/format";
import { reportGroups } from "@/app/lib/large-run";
import type { ReportInfo, RunDetail, RunEvent } from "@/protocol/run";
import { Section } from "./section";

/**
 * The run's node order and the times of its scales, for ReportsPanel: the same arrays until a node or a scale
 * is added, so the list is not regrouped for every event that streams in.
 */
export function useReportOrder(run: RunDetail | undefined, events: readonly RunEvent[]) {
  const nodeKey = run?.nodes.map((n) => n.name).join("\n") ?? "";
  const scaled = foldEvents(events, scaleEvents);
  const scaleKey = useMemo(() => scaled.map((e) => e.at).join("\n"), [scaled]);
  const nodeOrder = useMemo(() => (nodeKey ? nodeKey.split("\n") : []), [nodeKey]);
  const scales = useMemo(() => (scaleKey ? scaleKey.split("\n") : []), [scaleKey]);
  return { nodeOrder, scales };
}

export const ReportsPanel = memo(function ReportsPanel({
  runId,
  reports,
  offline = false,
  nodeOrder = [],
  scales = [],
}: {
  runId: string;
  reports: ReportInfo[] | undefined;
  /** a snapshot opened offline: the files are listed, not downloadable */
  offline?: boolean;
  /** the run's nodes in order: instances are listed by node, then by index */
  nodeOrder?: readonly string[];
  /** when each scale of the run happened (scaleTimes): a report after the k-th belongs to round k */
  scales?: readonly string[];
}) {
  const uid = useId();
  const [by, setBy] = useState<"instance" | "round">("instance");
  const grouping = scales.length > 0 ? by : "instance";
  const groups = useMemo(
    () => reportGroups(reports ?? [], nodeOrder, scales, grouping),
    [reports, nodeOrder, scales, grouping],
  );
  return (
    <Section
      title="Reports"
      id={`${uid}-reports`}
      actions={
        scales.length > 0 && reports && reports.length > 0 ? (
          <label className="field inline compact">
            <span>Group by</span>
            <select
              value={grouping}
              onChange={(e) => setBy(e.target.value as "instance" | "round")}
              data-testid="reports-group-by"
            >
              <option value="instance">instance</option>
              <option value="round">scale round</option>
            </select>
          </label>
        ) : null
      }
    >
      {!reports || reports.length === 0 ? (
        <p className="muted reports-empty" data-testid="reports-empty">
          Reports will be displayed as soon as available
        </p>
      ) : (
        <>
          <p className="reports-all">
            {offline ? null : (
              <a
                href={`/api/runs/${runId}/reports.tgz`}
                download={`${runId}_reports.tgz`}
                className="button"
                data-testid="reports-archive"
              >
                Download all reports
              </a>
            )}{" "}
            <span className="muted small">
              one archive · {reports.length} {reports.length === 1 ? "report" : "reports"} ·{" "}
              {formatBytes(reports.reduce((n, r) => n + r.size, 0))}
            </span>
          </p>
          {/* one row per group: a 60-instance run's reports fit a screen, in the order of its instances */}
          <div className="reports report-groups" data-testid="reports">
            {groups.map((g) => (
              <section key={g.key} className="report-group" data-report-group={g.key} aria-label={g.title}>
                <h3 className="report-group-title">
                  {g.title}
                  {g.reports.length > 1 && <span className="muted small"> · {g.reports.length}</span>}
                </h3>
                <ul>
                  {g.reports.map((r) => (
                    <li key={r.name} data-report={r.name}>
                      {offline ? (
                        <span className="report-link">{r.name}</span>
                      ) : (
                        <a
                          href={`/api/runs/${runId}/reports/${encodeURIComponent(r.name)}`}
                          download={r.name}
                          className="report-link"
                        >
                          {r.name}
                        </a>
                      )}
                      <span className="muted small">
                        {grouping === "round" ? (r.instance ?? "orchestrator") : null}
                        {grouping === "instance" && scales.length > 0
                          ? r.round === 0
                            ? "launch"
                            : `round ${r.round}`
                          : null}
                        {grouping === "round" || scales.length > 0 ? " · " : ""}
                        {formatBytes(r.size)} · {formatTime(r.createdAt)}
                      </span>
                    </li>
                  ))}
                </ul>
              </section>
            ))}
          </div>
        </>
      )}
    </Section>
  );
});
