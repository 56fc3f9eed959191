import { memo } from "react";
import { currentAbortReceipts } from "@/app/lib/abort-receipts";
import { formatTime } from "@/app/lib/format";
import { describeReport, describeStop } from "@/protocol/abort-receipt";
import type { RunDetail, RunEvent } from "@/protocol/run";

/**
 * Under the abort alert: per instance, what its agent did about the abort in force — when it reached it, how each
 * running script stopped (TERM, KILL after the grace) and whether the report was sent. Live: receipts arrive as run
 * events.
 */
export const AbortReceipts = memo(function AbortReceipts({
  run,
  events,
}: {
  run: RunDetail;
  events: readonly RunEvent[];
}) {
  const current = currentAbortReceipts(run, events);
  if (!current || current.rows.length === 0) return null;
  return (
    <div className="abort-receipts" data-testid="abort-receipts" data-abort={current.abort}>
      <h3 className="abort-receipts-title">
        Abort receipts <span className="muted small">abort #{current.abort}</span>
      </h3>
      {/* a 500-instance run's receipts scroll in a box of their own instead of making the page 19,000 px taller */}
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling box must be reachable by keyboard */}
      <section className="abort-receipts-scroll" tabIndex={0} aria-label="Abort receipts per instance">
        <table className="table abort-receipts-table">
          <thead>
            <tr>
              <th>Instance</th>
              <th>Abort reached agent</th>
              <th>Scripts stopped</th>
              <th>Report sent</th>
            </tr>
          </thead>
          <tbody>
            {current.rows.map(({ instance, live, receipt }) => (
              <tr key={instance} data-testid={`receipt-${instance}`}>
                <td className="mono">{instance}</td>
                {receipt ? (
                  <>
                    <td>{formatTime(receipt.reachedAt)}</td>
                    <td>
                      {receipt.scripts.length === 0 ? (
                        <span className="muted">no script was running</span>
                      ) : (
                        <ul className="receipt-scripts">
                          {receipt.scripts.map((s) => (
                            <li key={s.pid} data-signals={s.signals.join(",")}>
                              <span className="mono">{s.target}</span> <span className="muted small">pid {s.pid}</span>:{" "}
                              {describeStop(s)}
                            </li>
                          ))}
                        </ul>
                      )}
                    </td>
                    <td data-report={receipt.report}>{describeReport(receipt)}</td>
                  </>
                ) : (
                  <td colSpan={3} className="muted">
                    {live ? "waiting for the agent" : "no answer: its agent is lost"}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
});
