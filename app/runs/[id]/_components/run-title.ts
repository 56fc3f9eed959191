import { useEffect } from "react";
import { shortId } from "@/app/lib/format";
import type { RunDetail } from "@/protocol/run";

/** "6747a1b2 · Ready — SlipStream": a team with several run tabs open tells them, and their states, apart. */
export function runTitle(run: Pick<RunDetail, "id" | "state" | "abort">): string {
  const aborted = run.abort !== null && run.state !== "Aborted" ? " (aborted)" : "";
  return `${shortId(run.id)} · ${run.state}${aborted} — SlipStream`;
}

/** Keeps the tab's title on the live run (not a replayed moment): it follows every pushed state change. */
export function useRunTitle(run: RunDetail | undefined): void {
  const title = run ? runTitle(run) : null;
  useEffect(() => {
    if (title) document.title = title;
  }, [title]);
}
