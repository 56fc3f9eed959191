/**
 * Which actions a person may ask of a run now (run-rules A1–A5): the one function the server's commands and the
 * run detail's `allowed` list (which the UI renders) both use, so they cannot disagree.
 *
 * Each command gets one of three answers:
 * - `do`: it changes the run; it is in `allowedActions`;
 * - `no-op`: accepted and changes nothing (a retry, a second click): terminate while Finalizing (S2), a second abort
 *   (R7: the first message is kept). Not offered in `allowed`: there is nothing left to do;
 * - `refuse`: the server answers CONFLICT with `refusal()`, which names the state.
 *
 * `core/run-actions.test.ts` checks every state × abort × recovery mode × scalable against the machine's own answer.
 */
import { RunAction, type RunState } from "../protocol/run.js";
import { isTerminal } from "./run-states.js";

/** What the rules read of a run (its summary or its runtime). */
export interface RunFacts {
  state: RunState;
  abort: string | null;
  recoveryMode: boolean;
  scalable: boolean;
}

type CommandAnswer = "do" | "no-op" | "refuse";

export function commandAnswer(action: RunAction, run: RunFacts): CommandAnswer {
  if (isTerminal(run.state)) return "refuse";
  switch (action) {
    case "abort":
      return run.abort === null ? "do" : "no-op";
    case "resetAbort":
      return run.abort !== null || run.recoveryMode ? "do" : "refuse";
    case "terminate":
      return run.state === "Finalizing" ? "no-op" : "do";
    case "scale":
      return run.scalable && run.state === "Ready" && run.abort === null ? "do" : "refuse";
    case "setParam":
      return "do";
  }
}

/** The actions the run's state allows now, in `RunAction` order. */
export function allowedActions(run: RunFacts): RunAction[] {
  return RunAction.options.filter((a) => commandAnswer(a, run) === "do");
}

/** Why `action` is refused, naming the run's state (the CONFLICT message); null when it is not refused. */
export function refusal(action: RunAction, run: RunFacts): string | null {
  if (commandAnswer(action, run) !== "refuse") return null;
  if (isTerminal(run.state)) {
    return action === "terminate" ? `the run is already ${run.state}` : `run already ended ${run.state}`;
  }
  if (action === "resetAbort") return `nothing to reset: the run is ${run.state} with no abort and no recovery mode`;
  if (action === "scale") {
    if (!run.scalable) return "the run was not created scalable";
    if (run.state !== "Ready") return `scaling needs the run in Ready; it is ${run.state}`;
    return `the run is aborted (${run.abort}): reset the abort (slipstream abort --cancel) before scaling it`;
  }
  return `'${action}' is not allowed while the run is ${run.state}`;
}
