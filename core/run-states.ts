/**
 * Which run states are terminal, active, climbing or watched: the one place these sets are defined (run-rules R1,
 * R15, R19). `protocol/run.ts` holds the wire shape (`RUN_STATES`, `TERMINAL_STATES`, `BARRIER_STATES`); the rules
 * built on it live here, and SQL filters take their lists from here too (`server/db/run-states.ts`).
 */
import { RUN_STATES, type RunState, TERMINAL_STATES } from "../protocol/run.js";

/** Done, Aborted or Cancelled: the run handles no event any more (R16). */
export function isTerminal(state: RunState): boolean {
  return TERMINAL_STATES.includes(state);
}

/** Every state that is not terminal, in lifecycle order. */
export const ACTIVE_STATES: readonly RunState[] = RUN_STATES.filter((s) => !isTerminal(s));

/** The climb to Ready, which the run's deadline bounds (R15): a deadline passing in any other state does nothing. */
export const CLIMBING_STATES: readonly RunState[] = ["Initializing", "Provisioning", "Executing", "SendingReports"];

/** States in which an agent going away matters (R19, S4): its machine is up and the run is not being wound down. */
export const WATCHED_STATES: readonly RunState[] = [...CLIMBING_STATES, "Ready"];
