import type { InstanceOutcome } from "../protocol/catalog/results.js";
import type { RunState } from "../protocol/run.js";
import type { MachineStatus } from "./instance-status.js";
import { isTerminal } from "./run-states.js";

export interface OutcomeInput {
  runState: RunState;
  /** the run's first abort message (null when not aborted) */
  runAbort: string | null;
  /** the run got to SendingReports: every instance counted then had finished its execute target (barrier) */
  executesFinished: boolean;
  /** this instance's own `abort` parameter: set when it aborted the run (ss-abort, a failing script) */
  ownAbort: string | null;
  machine: MachineStatus;
  lost: boolean;
  cameUp: boolean;
  /** it completed the run's current state */
  completedNow: boolean;
}

/**
 * An instance's verdict for a CI, from what the run knows about it. Its own abort is the failure SlipStream users
 * rely on (a failing script aborts the run); a machine that failed or an agent lost is an error (the test could not
 * run); an instance stopped by someone else's abort, or by the run's end, before its recipe finished is skipped.
 */
export function instanceOutcome(i: OutcomeInput): { outcome: InstanceOutcome; message: string | null } {
  if (i.ownAbort !== null) return { outcome: "failed", message: i.ownAbort };
  if (i.machine === "failed") return { outcome: "error", message: "its machine failed to start" };
  if (i.lost) return { outcome: "error", message: "its agent was lost (the machine stopped answering)" };
  const recipeDone =
    (i.executesFinished && i.cameUp) ||
    (i.completedNow && (i.runState === "Executing" || i.runState === "SendingReports" || i.runState === "Ready"));
  if (recipeDone) return { outcome: "passed", message: null };
  if (i.runAbort !== null) {
    return { outcome: "skipped", message: `stopped before its recipe finished: the run was aborted (${i.runAbort})` };
  }
  if (isTerminal(i.runState)) {
    return { outcome: "skipped", message: `the run ended ${i.runState} before its recipe finished` };
  }
  return { outcome: "running", message: null };
}
