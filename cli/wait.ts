import type { RunDetail, RunEvent } from "../protocol/run.js";
import type { ApiClient } from "./api-client.js";
import { RunFollower } from "./follow.js";
import { RunProgress } from "./progress.js";

/** Ctrl-C while following: exit 130, after an optional note (e.g. that the run goes on without us). */
export function onInterrupt(message?: string): () => void {
  const handler = () => {
    if (message) process.stderr.write(`\nslipstream: ${message}\n`);
    process.exit(130);
  };
  process.once("SIGINT", handler);
  return () => process.off("SIGINT", handler);
}

/** Follows a run live from its first event to its end, writing progress lines. */
export async function followRunToEnd(
  api: ApiClient,
  run: RunDetail,
  write: (line: string) => void,
  /** each event as it arrives (machine-readable output) */
  onEvent?: (e: RunEvent) => void,
): Promise<RunProgress> {
  const progress = new RunProgress(run, write);
  const follower = new RunFollower({
    url: api.url,
    token: api.conn.token,
    runId: run.id,
    since: 0,
    onEvent: (e) => {
      onEvent?.(e);
      return progress.handle(e) ? "stop" : undefined;
    },
    onDisconnect: (reason) => write(`… connection lost (${reason}); reconnecting`),
    onResubscribed: (since) => write(`… reconnected; resuming after event ${since}`),
  });
  const release = onInterrupt(`stopped following; run ${run.id} goes on (slipstream terminate ${run.id})`);
  try {
    await follower.done;
  } finally {
    release();
  }
  return progress;
}
