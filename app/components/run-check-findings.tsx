import type { RunCheckResult } from "@/protocol/run-check";

/** What the Run… dialog's Check found: a dry run of the options as they were when it was pressed. */
export function RunCheckFindings({ result }: { result: RunCheckResult }) {
  const errors = result.findings.filter((f) => f.severity === "error").length;
  return (
    <section className="run-check" aria-label="Check results" data-testid="run-check">
      <p className={result.ok ? "muted" : "form-error"} role="status">
        {result.ok
          ? `Check passed: the run can start${result.findings.length ? ` (${result.findings.length} note${result.findings.length === 1 ? "" : "s"})` : ""}.`
          : `Check found ${errors} error${errors === 1 ? "" : "s"}: the run would not work as it is.`}
      </p>
      {result.findings.length > 0 && (
        <ul className="run-check-findings">
          {result.findings.map((f, i) => (
            // findings have no identity of their own; the list is replaced whole by the next check
            // biome-ignore lint/suspicious/noArrayIndexKey: see above
            <li key={i} className={`finding finding-${f.severity}`} data-severity={f.severity}>
              <strong>{f.severity}</strong> {f.node && <span className="mono">{f.node}</span>}
              {f.target && (
                <span className="mono">
                  {" "}
                  {f.target}
                  {f.line !== null ? `:${f.line}` : ""}
                </span>
              )}
              {f.key && <span className="mono"> {f.key}</span>}: {f.message}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
