import type { RunState } from "@/protocol/run";

export function StateBadge({ state, large = false }: { state: RunState; large?: boolean }) {
  return (
    <span className={`state state-${state}${large ? " state-large" : ""}`} data-state={state}>
      {state}
    </span>
  );
}
