import type { RunState } from "@/protocol/run";
import { isAbortedKept, runStateLabel } from "../lib/aborted-kept";

/** A run's state; given its abort, a run aborted but kept reads "Ready · aborted" in the failure colour. */
export function StateBadge({
  state,
  abort = null,
  large = false,
}: {
  state: RunState;
  abort?: string | null;
  large?: boolean;
}) {
  const kept = isAbortedKept({ state, abort });
  return (
    <span
      className={`state state-${state}${kept ? " state-aborted-kept" : ""}${large ? " state-large" : ""}`}
      data-state={state}
      data-aborted={kept ? "true" : undefined}
    >
      {runStateLabel({ state, abort })}
    </span>
  );
}
