import type { InstanceLaunch } from "../connectors/types.js";
import { PeerCloud, startTestServer } from "./harness.js";

/**
 * The server as a process of its own on a cloud named "peer" (for tests that kill it with SIGKILL): it prints
 * `listening <url> <admin token> <epoch ms it was ready, before it signed in>`, then `launch <instance> <agent token>` for every machine the server starts, so
 * the test connects AgentPeers speaking the real /agent protocol. DATA_DIR reopens a killed server's data.
 */
class PrintingCloud extends PeerCloud {
  override async start(launch: InstanceLaunch) {
    process.stdout.write(`launch ${launch.instance} ${launch.token}\n`);
    return super.start(launch);
  }
}

const s = await startTestServer({
  dataDir: process.env.DATA_DIR,
  port: process.env.PORT ? Number(process.env.PORT) : undefined,
  connectors: new Map([["peer", new PrintingCloud()]]),
  // no local instances here: and no network of theirs to set up, which races with other servers of the test run
  local: { sandbox: false },
  onReady: (ready) => process.stdout.write(`ready ${ready.url} ${ready.readyAt}\n`),
});
process.stdout.write(`listening ${s.url} ${s.token}\n`);
