import { API } from "../protocol/catalog/index.js";
import { DEFAULT_LEASE_GRACE_SECONDS } from "../protocol/run-lease.js";
import type { ApiClient } from "./api-client.js";
import { usage } from "./errors.js";

/** `--lease-grace SECONDS` (default 30): how long the server waits after the last heartbeat. */
export function leaseGrace(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_LEASE_GRACE_SECONDS;
  if (!/^\d+$/.test(raw) || Number(raw) < 3 || Number(raw) > 86400) {
    throw usage(`--lease-grace: '${raw}' must be a whole number of seconds from 3 to 86400`);
  }
  return Number(raw);
}

export interface HeldLease {
  /** stops the heartbeats and gives the lease back: the run goes on without this client */
  release(): Promise<void>;
}

/**
 * Holds the run's lease while this process lives: takes it, then renews it every third of the grace, so two lost
 * heartbeats in a row are still within it. The timers do not keep the process alive: when it ends any other way
 * than through release() (killed, crashed), the server ends the run once the grace has passed.
 */
export async function holdLease(
  api: ApiClient,
  runId: string,
  graceSeconds: number,
  write: (line: string) => void,
): Promise<HeldLease> {
  const renew = () => api.call(API.takeLease, { params: { id: runId }, body: { graceSeconds } });
  try {
    await renew();
  } catch (err) {
    // a run that ended at once has nothing to hold; anything else is said, and the run is followed all the same
    write(`… no lease on run ${runId} (${(err as Error).message}): it goes on if this command is killed`);
    return { release: async () => {} };
  }
  let timer: NodeJS.Timeout | null = null;
  let failing = false;
  const beat = () => {
    timer = setTimeout(
      async () => {
        try {
          await renew();
          if (failing) write("… lease renewed again");
          failing = false;
        } catch (err) {
          if (!failing) write(`… could not renew the run's lease (${(err as Error).message}); retrying`);
          failing = true;
        }
        if (timer) beat();
      },
      (graceSeconds * 1000) / 3,
    );
    timer.unref();
  };
  beat();
  // Ctrl-C (and CI's cancel, which sends SIGINT first) leaves the lease to expire: say what that does to the run
  const onInterrupt = () =>
    process.stderr.write(
      `\nslipstream: run ${runId} is terminated ${graceSeconds} s from now, its lease no longer renewed (run with --no-lease to leave it running)\n`,
    );
  process.prependOnceListener("SIGINT", onInterrupt);
  return {
    async release() {
      process.off("SIGINT", onInterrupt);
      if (timer) clearTimeout(timer);
      timer = null;
      try {
        await api.call(API.releaseLease, { params: { id: runId } });
      } catch {
        // the run has ended (nothing to hold) or the server is gone: the lease no longer matters
      }
    },
  };
}
