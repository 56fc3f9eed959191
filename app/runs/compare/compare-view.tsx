"use client";

import { useQuery } from "@tanstack/react-query";
import { useSearchParams } from "next/navigation";
import { useId, useState } from "react";
import { Link } from "@/app/components/link";
import { AuthGate } from "@/app/components/shell";
import { StateBadge } from "@/app/components/state-badge";
import { call } from "@/app/lib/api";
import { formatBytes, formatDateTime, formatDuration, shortId } from "@/app/lib/format";
import { API } from "@/protocol/catalog";
import type { InstanceOutcome, RunDiff } from "@/protocol/run-replay";
import "../replay.css";

const took = (ms: number | null) => (ms === null ? <span className="absent">—</span> : formatDuration(ms));

function Outcome({ o }: { o: InstanceOutcome | null }) {
  if (!o) return <span className="absent">not in this run</span>;
  return (
    <>
      <strong data-outcome={o.outcome}>{o.outcome}</strong>
      {o.lastCompleted ? ` · ${o.outcome === "completed" ? "" : "after "}${o.lastCompleted}` : ""}
      {o.totalMs !== null ? ` · ${formatDuration(o.totalMs)}` : ""}
      {o.detail ? <div className="small">{o.detail}</div> : null}
    </>
  );
}

function ReportCell({ runId, f }: { runId: string; f: { name: string; size: number } | null }) {
  if (!f)
    return (
      <td>
        <span className="absent">none</span>
      </td>
    );
  return (
    <td>
      <a href={`/api/runs/${runId}/reports/${encodeURIComponent(f.name)}`} download={f.name}>
        {f.name}
      </a>{" "}
      <span className="muted small">{formatBytes(f.size)}</span>
    </td>
  );
}

function Value({ v, declared }: { v: string | null; declared: boolean }) {
  if (!declared) return <span className="absent">not declared</span>;
  if (v === null) return <span className="absent">unset</span>;
  return <>{v}</>;
}

function Section({ title, children }: { title: string; children: React.ReactNode }) {
  const id = useId();
  return (
    <section className="card section" aria-labelledby={id}>
      <div className="section-head">
        <h2 id={id}>{title}</h2>
      </div>
      {children}
    </section>
  );
}

function DiffTables({ d }: { d: RunDiff }) {
  const [onlyDiff, setOnlyDiff] = useState(false);
  const params = onlyDiff ? d.params.filter((p) => !p.same) : d.params;
  const differing = d.params.filter((p) => !p.same).length;
  const head = (
    <thead>
      <tr>
        <th scope="col" />
        <th scope="col">
          A · <Link href={`/runs/${d.a.id}`}>{shortId(d.a.id)}</Link>
        </th>
        <th scope="col">
          B · <Link href={`/runs/${d.b.id}`}>{shortId(d.b.id)}</Link>
        </th>
      </tr>
    </thead>
  );
  return (
    <>
      <Section title="Runs">
        <table data-testid="compare-runs">
          {head}
          <tbody>
            <tr>
              <th scope="row">State</th>
              <td>
                <StateBadge state={d.a.state} />
              </td>
              <td>
                <StateBadge state={d.b.state} />
              </td>
            </tr>
            <tr className={d.a.abort !== d.b.abort ? "differs" : ""}>
              <th scope="row">Abort</th>
              <td>{d.a.abort ?? <span className="absent">none</span>}</td>
              <td>{d.b.abort ?? <span className="absent">none</span>}</td>
            </tr>
            <tr>
              <th scope="row">Started</th>
              <td>
                {formatDateTime(d.a.createdAt)} by {d.a.owner}
              </td>
              <td>
                {formatDateTime(d.b.createdAt)} by {d.b.owner}
              </td>
            </tr>
            <tr>
              <th scope="row">Duration</th>
              <td>{took(d.a.durationMs)}</td>
              <td>{took(d.b.durationMs)}</td>
            </tr>
          </tbody>
        </table>
      </Section>
      <Section title="Time per state">
        <table data-testid="compare-states">
          {head}
          <tbody>
            {d.states.map((s) => (
              <tr key={s.state} data-state={s.state}>
                <th scope="row">{s.state}</th>
                <td>{took(s.aMs)}</td>
                <td>{took(s.bMs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Instances">
        <table data-testid="compare-instances">
          {head}
          <tbody>
            {d.instances.map((i) => (
              <tr key={i.name} className={i.same ? "" : "differs"} data-instance={i.name}>
                <th scope="row" className="mono">
                  {i.name}
                </th>
                <td>
                  <Outcome o={i.a} />
                </td>
                <td>
                  <Outcome o={i.b} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title={`Parameters (${differing} of ${d.params.length} differ)`}>
        <label className="small">
          <input type="checkbox" checked={onlyDiff} onChange={(e) => setOnlyDiff(e.target.checked)} /> Only the
          differences
        </label>
        <table data-testid="compare-params">
          {head}
          <tbody>
            {params.map((p) => (
              <tr key={p.key} className={p.same ? "" : "differs"} data-key={p.key}>
                <th scope="row" className="mono">
                  {p.key}
                </th>
                <td className="mono">
                  <Value v={p.a} declared={p.inA} />
                </td>
                <td className="mono">
                  <Value v={p.b} declared={p.inB} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Reports">
        {d.reports.length === 0 ? (
          <p className="muted">No reports in either run.</p>
        ) : (
          <table data-testid="compare-reports">
            {head}
            <tbody>
              {d.reports.map((r) => (
                <tr key={r.key} className={r.a && r.b ? "" : "differs"}>
                  <th scope="row" className="mono">
                    {r.key}
                  </th>
                  <ReportCell runId={d.a.id} f={r.a} />
                  <ReportCell runId={d.b.id} f={r.b} />
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}

function Compare() {
  const search = useSearchParams();
  const a = search.get("a") ?? "";
  const b = search.get("b") ?? "";
  const diff = useQuery({
    queryKey: ["runs", "diff", a, b],
    queryFn: () => call(API.diffRuns, { params: { id: a, other: b } }),
    enabled: !!a && !!b,
    retry: false,
  });
  return (
    <div className="compare-page">
      <nav aria-label="Breadcrumb" className="breadcrumbs">
        <Link href="/">Runs</Link>
        <span className="sep" aria-hidden="true">
          /
        </span>
        <span aria-current="page">Compare</span>
      </nav>
      <h1>{diff.data ? `Compare runs of ${diff.data.module}` : "Compare runs"}</h1>
      {!a || !b ? (
        <p className="alert alert-warn" role="alert">
          Name two runs to compare: <span className="mono">/runs/compare?a=RUN&amp;b=RUN</span>, or use “Compare with…”
          on a run's page.
        </p>
      ) : diff.isPending ? (
        <p className="page-loading">Comparing…</p>
      ) : diff.isError ? (
        <div className="alert alert-abort" role="alert" data-testid="compare-error">
          <strong>These runs cannot be compared.</strong>
          <p>{diff.error.message}</p>
          <p>
            <Link href={`/runs/${a}`}>Run A</Link> · <Link href={`/runs/${b}`}>Run B</Link>
          </p>
        </div>
      ) : (
        <DiffTables d={diff.data} />
      )}
    </div>
  );
}

export function CompareView() {
  return (
    <AuthGate>
      <Compare />
    </AuthGate>
  );
}
