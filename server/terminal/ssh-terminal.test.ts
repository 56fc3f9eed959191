import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TerminalSession } from "../../protocol/terminal.js";
import { createSshConnector } from "../connectors/ssh/connector.js";
import { startTestServer, type TestServer } from "../testing/harness.js";
import { createTestHosts, generateKeyPair, netnsUnavailable, type TestHosts } from "../testing/netns.js";
import { fetchReports } from "../testing/reports.js";
import { keptRun, Viewer } from "../testing/terminal.js";

const unavailable = await netnsUnavailable();
// CI installs sshd and iproute2 and runs as root: there a missing piece is a failure, not a reason to skip
if (unavailable && process.env.CI === "true") throw new Error(`ssh terminal test cannot run in CI: ${unavailable}`);

let hosts: TestHosts;
let server: TestServer;
const closeLater: { close(): void }[] = [];

describe.skipIf(unavailable !== null)(
  `shared terminal on an ssh cloud (real sshd in a network namespace)${unavailable ? ` (skipped: ${unavailable})` : ""}`,
  () => {
    beforeAll(async () => {
      hosts = await createTestHosts(["t"]);
      const userKey = await generateKeyPair();
      // on every interface: the agent in the namespace reaches the server through the bridge
      server = await startTestServer({ host: "0.0.0.0", killGraceSeconds: 2 });
      const h = hosts.hosts[0];
      server.app.connectors.set(
        "ssh-t",
        createSshConnector(
          {
            name: "ssh-t",
            hosts: [
              { address: h.address, port: 22, username: hosts.user, privateKey: hosts.clientKey, maxInstances: 1 },
            ],
            agentServiceUrl: `http://${hosts.gateway}:${server.port}`,
          },
          {
            bundleDir: path.join(server.dataDir, "agent"),
            redact: (s) => server.app.secrets.redact(s),
            authorizedKeys: () => [userKey.publicKey],
            killGraceSeconds: 2,
          },
        ),
      );
    }, 60_000);

    afterAll(async () => {
      for (const c of closeLater.splice(0)) c.close();
      await server?.close({ stopInstances: true });
      await hosts?.cleanup();
    }, 60_000);

    it("the agent on the ssh host runs the shell there, as the cloud's login user, setenv sourced; recorded", async () => {
      const { runId } = await keptRun(server, closeLater, { box: "ssh-t" });
      const owner = new Viewer(server.url, server.token, closeLater);
      await owner.follow(runId);
      const opened = await owner.call("term:open", { runId, instance: "box.1", rows: 24, cols: 80 });
      expect(opened.ok, JSON.stringify(opened)).toBe(true);
      const id = (opened as { data: TerminalSession }).data.id;
      await owner.until(() => owner.text(id).includes("box.1:"));
      await owner.call("term:input", {
        runId,
        session: id,
        data: 'echo "on-$SLIPSTREAM_CLOUD as-$(id -un)"; exit\r',
      });
      await owner.until(() => owner.sessions.some((x) => x.id === id && x.report !== null), 30_000);
      // the test runs as root: the login user shows the shell ran on the host, through its agent
      expect(owner.text(id)).toContain(`on-ssh-t as-${hosts.user}`);
      const closed = owner.sessions.find((x) => x.id === id && x.report !== null)!;
      expect(closed.closedReason).toBe("the shell exited 0");
      const { files } = await fetchReports(server, runId);
      expect(files[closed.report!]).toEqual([`${id}.cast`]);
    });
  },
);
