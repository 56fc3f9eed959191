import { memo, useId } from "react";
import { formatBytes, formatTime } from "@/app/lib/format";
import type { ReportInfo } from "@/protocol/run";
import { Section } from "./section";

export const ReportsPanel = memo(function ReportsPanel({
  runId,
  reports,
  offline = false,
}: {
  runId: string;
  reports: ReportInfo[] | undefined;
  /** a snapshot opened offline: the files are listed, not downloadable */
  offline?: boolean;
}) {
  const uid = useId();
  return (
    <Section title="Reports" id={`${uid}-reports`}>
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
          <ul className="reports" data-testid="reports">
            {reports.map((r) => (
              <li key={r.name}>
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
                  {r.instance ?? "orchestrator"} · {formatBytes(r.size)} · {formatTime(r.createdAt)}
                </span>
              </li>
            ))}
          </ul>
        </>
      )}
    </Section>
  );
});
