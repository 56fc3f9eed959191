import { useQuery } from "@tanstack/react-query";
import { memo, useId, useMemo } from "react";
import { call } from "@/app/lib/api";
import { API } from "@/protocol/catalog";
import type { InstanceOutcome, RunTestResults } from "@/protocol/catalog/results";
import type { ReportInfo, RunState } from "@/protocol/run";
import { Section } from "./section";

const OUTCOME_CLASS: Record<InstanceOutcome, string> = {
  passed: "outcome-passed",
  failed: "outcome-failed",
  error: "outcome-failed",
  skipped: "outcome-skipped",
  running: "outcome-running",
};

/** Per node: its instances' JUnit suites summed. */
function perNode(r: RunTestResults) {
  const nodeOf = new Map(r.instances.map((i) => [i.instance, i.node]));
  const rows = new Map<string, { node: string; suites: number; tests: number; failures: number; skipped: number }>();
  for (const s of r.junit.suites) {
    const node = s.instance === null ? "orchestrator" : (nodeOf.get(s.instance) ?? s.instance);
    const row = rows.get(node) ?? { node, suites: 0, tests: 0, failures: 0, skipped: 0 };
    row.suites++;
    row.tests += s.tests;
    row.failures += s.failures + s.errors;
    row.skipped += s.skipped;
    rows.set(node, row);
  }
  return [...rows.values()];
}

/**
 * The run's test results as a CI sees them: each instance's verdict, and the JUnit files found in its reports
 * (counted per node, failing cases listed). Asked again whenever a report arrives or the run changes state.
 */
export const TestResultsPanel = memo(function TestResultsPanel({
  runId,
  state,
  reports,
}: {
  runId: string;
  state: RunState;
  reports: ReportInfo[] | undefined;
}) {
  const uid = useId();
  const count = reports?.length ?? 0;
  const results = useQuery({
    queryKey: ["run", runId, "test-results", count, state],
    queryFn: () => call(API.runTestResults, { params: { id: runId } }),
    enabled: count > 0,
    staleTime: Number.POSITIVE_INFINITY,
    placeholderData: (previous) => previous,
  });
  const r = results.data;
  const nodes = useMemo(() => (r ? perNode(r) : []), [r]);
  if (!r) return null;
  const j = r.junit;
  // a test may be listed twice (re-runs): its key counts its copies
  const seen = new Map<string, number>();
  const failing = j.suites.flatMap((s) =>
    s.cases
      .filter((c) => c.status === "failed" || c.status === "error")
      .map((c) => {
        const base = `${s.report}|${s.file}|${s.name}|${c.classname}|${c.name}`;
        const copy = (seen.get(base) ?? 0) + 1;
        seen.set(base, copy);
        return { suite: s, c, key: `${base}|${copy}` };
      }),
  );
  return (
    <Section
      title="Test results"
      id={`${uid}-results`}
      actions={
        <a className="button small" href={`/api/runs/${runId}/junit.xml`} download={`${runId}_junit.xml`}>
          JUnit XML
        </a>
      }
    >
      <ul className="outcomes" aria-label="Verdict per instance" data-testid="instance-outcomes">
        {r.instances.map((i) => (
          <li key={i.instance} title={i.message ?? undefined}>
            <span className={`chip ${OUTCOME_CLASS[i.outcome]}`}>{i.outcome}</span> {i.instance}
          </li>
        ))}
      </ul>
      {j.suites.length === 0 ? (
        <p className="muted small">No JUnit XML in the reports (any *.xml file whose root is a testsuite counts).</p>
      ) : (
        <>
          <p className="results-totals" data-testid="junit-totals">
            <strong>{j.tests}</strong> tests ·{" "}
            <span className={j.failures + j.errors > 0 ? "danger-text" : "ok-text"}>
              {j.failures} failed{j.errors > 0 ? `, ${j.errors} errors` : ""}
            </span>{" "}
            · {j.skipped} skipped
          </p>
          <table className="table results-table" data-testid="junit-per-node">
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col">Suites</th>
                <th scope="col">Tests</th>
                <th scope="col">Failed</th>
                <th scope="col">Skipped</th>
              </tr>
            </thead>
            <tbody>
              {nodes.map((n) => (
                <tr key={n.node}>
                  <td>{n.node}</td>
                  <td>{n.suites}</td>
                  <td>{n.tests}</td>
                  <td className={n.failures > 0 ? "danger-text" : undefined}>{n.failures}</td>
                  <td>{n.skipped}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {failing.length > 0 && (
            <ul className="failing-cases" data-testid="failing-cases">
              {failing.slice(0, 50).map(({ suite, c, key }) => (
                <li key={key}>
                  <span className="chip outcome-failed">{c.status}</span> {suite.instance ?? "orchestrator"}:{" "}
                  <code>
                    {c.classname ? `${c.classname}.` : ""}
                    {c.name}
                  </code>
                  {c.message ? <span className="muted"> — {c.message}</span> : null}
                </li>
              ))}
              {failing.length > 50 && <li className="muted">… and {failing.length - 50} more</li>}
            </ul>
          )}
        </>
      )}
      {j.problems.map((p) => (
        <p key={`${p.report}-${p.file}`} className="muted small">
          {p.report} {p.file}: {p.message}
        </p>
      ))}
    </Section>
  );
});
