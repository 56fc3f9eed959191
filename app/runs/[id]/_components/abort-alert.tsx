import { debugCommands, type RunDetail, type RuntimeParam, TERMINAL_STATES } from "@/protocol/run";

/**
 * Says that the run was aborted and why; while it has not ended, how to debug it: reset the abort, and the
 * commands that log in to each aborted instance.
 */
export function AbortAlert({ run, params }: { run: RunDetail; params: Map<string, RuntimeParam> }) {
  if (run.abort === null) return null;
  const ended = TERMINAL_STATES.includes(run.state);
  return (
    <div className="alert alert-abort" role="alert" data-testid="abort-alert">
      <strong>Run aborted:</strong> <span className="abort-message">{run.abort}</span>
      {!ended && (
        <p className="small">
          Recipes can no longer read or write parameters. To debug, keep the machines, log in, then press{" "}
          <em>Reset abort</em> and re-run the recipe.
        </p>
      )}
      {!ended &&
        run.instances.map((i) => {
          const cmds = debugCommands(params.get(`${i.name}:url.ssh`)?.value, i.workspace, i.login);
          if (!cmds || params.get(`${i.name}:abort`)?.value == null) return null;
          return (
            <div key={i.name} className="debug-login" data-testid={`debug-${i.name}`}>
              <p className="small">
                Log in to <strong>{i.name}</strong> and debug:
              </p>
              <pre className="mono small">{cmds.join("\n")}</pre>
            </div>
          );
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
