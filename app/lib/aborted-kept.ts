import { type RunEvent, type RunState, TERMINAL_STATES } from "@/protocol/run";
import { actorName } from "./format";

type AbortView = { state: RunState; abort: string | null };

/** Aborted, but not ended: keep-running kept its machines up for debugging (or it is still winding down). */
export function isAbortedKept(run: AbortView): boolean {
  return run.abort !== null && !TERMINAL_STATES.includes(run.state);
}

/** The state as a badge and a tab title say it: "Ready · aborted" for a run aborted but kept. */
export function runStateLabel(run: AbortView): string {
  return isAbortedKept(run) ? `${run.state} · aborted` : run.state;
}

/** Who said what when about an abort, in words (`admin`, `client.1`, `SlipStream`). */
export interface AbortNews {
  seq: number;
  by: string;
  at: string;
  message: string | null;
}

/**
 * Who aborted the run and when: the first abort since the last reset (later aborts only add their messages), or
 * null when the events hold none.
 */
export function currentAbort(events: readonly RunEvent[]): AbortNews | null {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e.body.type === "abort-reset") return null;
    if (e.body.type === "abort" && e.body.first) {
      return { seq: e.seq, by: actorName(e.actor).name, at: e.at, message: e.body.message };
    }
  }
  return null;
}

/** The abort resets among `events` after `afterSeq`, with who reset it: every watcher is told of these. */
export function abortResetsAfter(events: readonly RunEvent[], afterSeq: number): AbortNews[] {
  return events
    .filter((e) => e.seq > afterSeq && e.body.type === "abort-reset")
    .map((e) => ({ seq: e.seq, by: actorName(e.actor).name, at: e.at, message: null }));
}
