import { currentAbort } from "@/app/lib/aborted-kept";
import { formatDateTime } from "@/app/lib/format";
import type { ParamLookup } from "@/app/lib/run-views";
import { type RunDetail, type RunEvent, TERMINAL_STATES } from "@/protocol/run";
import { InstanceDebugCommands } from "./debug-commands";

/**
 * Says that the run was aborted and why; while it has not ended, how to debug it: reset the abort, and the
 * commands that log in to each aborted instance.
 */
export function AbortAlert({
  run,
  params,
  events = [],
}: {
  run: RunDetail;
  params: ParamLookup;
  events?: readonly RunEvent[];
}) {
  if (run.abort === null) return null;
  const ended = TERMINAL_STATES.includes(run.state);
  const by = currentAbort(events);
  return (
    <div className="alert alert-abort" role="alert" data-testid="abort-alert">
      <strong>Run aborted:</strong> <span className="abort-message">{run.abort}</span>
      {by && (
        <p className="small" data-testid="aborted-by">
          Aborted by <strong>{by.by}</strong> {formatDateTime(by.at)}
          {run.state === "Ready" && " · its machines are kept up for debugging"}
        </p>
      )}
      {!ended && (
        <p className="small">
          Recipes can no longer read or write parameters. To debug, keep the machines, log in, then press{" "}
          <em>Reset abort</em> and re-run the recipe.
        </p>
      )}
      {!ended &&
        run.instances.map((i) => {
          if (params.get(`${i.name}:abort`)?.value == null) return null;
          return <InstanceDebugCommands key={i.name} runId={run.id} instance={i.name} owner={run.owner} />;
        })}
    </div>
  );
}

/** Says that recovery mode is on, when no abort alert is shown. */
export function RecoveryAlert({ run }: { run: RunDetail }) {
  if (run.abort !== null || !run.recoveryMode) return null;
  return (
    <div className="alert alert-warn" role="status">
      Recovery mode is on: an abort happened during provisioning, so barriers no longer wait for instances that never
      came up.
    </div>
  );
}
