/**
 * The server of the limits benchmark (bench/limits.ts) as a process of its own, so its RSS and CPU are its own: a
 * cloud of test peers named "peer" whose machines are the benchmark's simulated agents. It prints
 * `listening <url> <admin token> <pid>`, then `launch <run id> <instance> <agent token>` for every machine it starts
 * (the run id too: every run of part b has the same instance names).
 */
import type { InstanceLaunch } from "../server/connectors/types.js";
import { PeerCloud, startTestServer } from "../server/testing/harness.js";

class PrintingCloud extends PeerCloud {
  override async start(launch: InstanceLaunch) {
    process.stdout.write(`launch ${launch.runId} ${launch.instance} ${launch.token}\n`);
    return { instanceId: `peer-${launch.runId}-${launch.instance}`, hostname: "127.0.0.1", workspace: "" };
  }
}

const s = await startTestServer({
  dataDir: process.env.DATA_DIR,
  connectors: new Map([["peer", new PrintingCloud()]]),
  local: { sandbox: false },
});
// the runs measured here are far over a team's defaults, as an admin would raise them for such a test
s.app.settings.setLimits(
  {
    instancesPerRun: 100_000,
    activeInstancesPerUser: 1_000_000,
    paramsPerRun: 10_000_000,
    eventsPerRun: 100_000_000,
  },
  "bench",
);
// an experiment (LIMITS_WAL_AUTOCHECKPOINT=0): SQLite's automatic WAL checkpoint runs inside a commit, on the event
// loop, and syncs the database file; without it, what limits the server next
const checkpoint = process.env.LIMITS_WAL_AUTOCHECKPOINT;
if (checkpoint !== undefined) s.app.db.$client.pragma(`wal_autocheckpoint = ${Number(checkpoint)}`);
process.stdout.write(`listening ${s.url} ${s.token} ${process.pid}\n`);
// a SIGTERM from the benchmark ends the process as a normal exit, so that `--cpu-prof` writes its profile
process.once("SIGTERM", () => {
  s.close({ stopInstances: false }).finally(() => process.exit(0));
});
