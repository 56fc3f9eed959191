import type { RunningServer } from "../app.js";

/** How long a stop may take: orchestrators (Kubernetes, Docker) kill after their grace, 10 s by default for Docker. */
export const DRAIN_WITHIN_MS = 10_000;

/**
 * SIGTERM and SIGINT drain the server: /api/ready turns 503 and new runs are refused at once, timers stop, active
 * runs record the stop, every socket's transport is closed (socket.io clients reconnect on their own after a
 * transport close — agents to the restarted server, which adopts their runs), the last group commit is flushed and
 * the database closed; then the process exits 0. A drain that overruns its bound exits 1 rather than be killed.
 */
export function drainOnSignals(server: RunningServer, say: (line: string) => void = console.log): void {
  let started = false;
  const drain = (signal: NodeJS.Signals) => {
    // repeats are ignored: `npm start` forwards the terminal's Ctrl-C that the server also got, and the drain is
    // bounded anyway
    if (started) return;
    started = true;
    const t0 = Date.now();
    say(`${signal}: draining (new runs refused, sockets told to reconnect)`);
    server.app.ops.lifecycle.startDraining();
    const overrun = setTimeout(() => {
      console.error(`slipstream: the drain did not finish within ${DRAIN_WITHIN_MS / 1000} s; exiting`);
      process.exit(1);
    }, DRAIN_WITHIN_MS - 500);
    server.close().then(
      () => {
        clearTimeout(overrun);
        say(`stopped in ${Date.now() - t0} ms (database closed)`);
        process.exit(0);
      },
      (err: unknown) => {
        console.error(`slipstream: stopping failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", drain);
  process.on("SIGTERM", drain);
}
