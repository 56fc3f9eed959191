import { type ReactNode, useMemo } from "react";
import { Modal } from "@/app/components/modal";
import { formatBytes, formatTime } from "@/app/lib/format";
import type { Tile } from "@/app/lib/large-run";
import type { ReportInfo, RunEvent, RuntimeParam } from "@/protocol/run";
import { LogOutput } from "./log-tail";

/**
 * One instance of a run on its own: how it is doing, its parameters, its log and its reports, live. Esc closes it
 * and the focus goes back to the tile that opened it (Modal).
 */
export function InstanceDetail({
  runId,
  tile,
  image,
  cloud,
  params,
  events,
  reports,
  debug,
  offline = false,
  onClose,
}: {
  runId: string;
  tile: Tile;
  image: string;
  cloud: string;
  params: readonly RuntimeParam[];
  events: readonly RunEvent[];
  reports: readonly ReportInfo[] | undefined;
  /** how to get into this instance and re-run its recipes (the debug commands), shown first when given */
  debug?: ReactNode;
  /** a snapshot opened offline: reports are listed, not downloadable */
  offline?: boolean;
  onClose: () => void;
}) {
  const prefix = `${tile.name}:`;
  const own = useMemo(() => params.filter((p) => p.key.startsWith(prefix)), [params, prefix]);
  const ownReports = useMemo(
    () =>
      (reports ?? []).filter((r) => r.instance === tile.name).sort((a, b) => a.createdAt.localeCompare(b.createdAt)),
    [reports, tile.name],
  );
  return (
    <Modal title={tile.name} onClose={onClose} wide>
      <div className="instance-detail" data-testid="instance-detail" data-instance-detail={tile.name}>
        {/* the panel opens at its top, not scrolled to its first focusable part (the log) */}
        <p className="instance-detail-state" tabIndex={-1} data-autofocus>
          <span className={`swatch inst-${tile.tone}`} aria-hidden="true" />{" "}
          <strong data-testid="instance-detail-state">{tile.label.slice(prefix.length + 1)}</strong>{" "}
          <span className="muted small">
            {image} · {cloud}
          </span>
        </p>
        {debug && (
          <section className="instance-detail-part" aria-label="Debug" data-testid="instance-detail-debug">
            {debug}
          </section>
        )}
        <section className="instance-detail-part" aria-labelledby={`${tile.name}-log`}>
          <h3 id={`${tile.name}-log`}>Log</h3>
          <LogOutput events={events} instance={tile.name} />
        </section>
        <section className="instance-detail-part" aria-labelledby={`${tile.name}-reports`}>
          <h3 id={`${tile.name}-reports`}>Reports</h3>
          {ownReports.length === 0 ? (
            <p className="muted small">None yet.</p>
          ) : (
            <ul className="reports" data-testid="instance-detail-reports">
              {ownReports.map((r) => (
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
                    {formatBytes(r.size)} · {formatTime(r.createdAt)}
                  </span>
                </li>
              ))}
            </ul>
          )}
        </section>
        <section className="instance-detail-part" aria-labelledby={`${tile.name}-params`}>
          <h3 id={`${tile.name}-params`}>Parameters</h3>
          {own.length === 0 ? (
            <p className="muted small">None yet.</p>
          ) : (
            <table className="table params-table compact" data-testid="instance-detail-params">
              <tbody>
                {own.map((p) => (
                  <tr key={p.key} data-detail-param={p.key}>
                    <th scope="row" className="mono">
                      {p.key.slice(prefix.length)}
                    </th>
                    <td className={`mono ${p.value == null ? "muted" : ""}`}>{p.value ?? "not set"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>
    </Modal>
  );
}
