/** SQL list literals of run states, built from the rules in core (never spelled out in a query). */
import { CLIMBING_STATES } from "../../core/run-states.js";
import { RUN_STATES, type RunState, TERMINAL_STATES } from "../../protocol/run.js";

/** `('Done','Aborted','Cancelled')`, for `state in …` / `state not in …`; only known state names get in. */
function sqlStateList(states: readonly RunState[]): string {
  for (const s of states) {
    if (!(RUN_STATES as readonly string[]).includes(s)) throw new Error(`not a run state: ${JSON.stringify(s)}`);
  }
  return `(${states.map((s) => `'${s}'`).join(",")})`;
}

/** The terminal states (Done, Aborted, Cancelled): `where state not in ${TERMINAL_SQL}` is every active run. */
export const TERMINAL_SQL = sqlStateList(TERMINAL_STATES);

/** The states of the climb to Ready, the only ones a run's deadline applies to (run-rules R15). */
export const CLIMBING_SQL = sqlStateList(CLIMBING_STATES);
