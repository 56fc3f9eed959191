import { afterEach, expect } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { AgentPeer, PeerCloud, startTestServer, type TestServer } from "./harness.js";

/**
 * One in-process server per test on a cloud named "peer", and the agent peers the test opens; all are closed
 * after each test. Call once at the top of a test file.
 */
export function serverPerTest() {
  let current: TestServer | null = null;
  const peers: AgentPeer[] = [];
  const closePeers = () => {
    for (const p of peers.splice(0)) p.close();
  };
  afterEach(async () => {
    closePeers();
    await current?.close();
    current = null;
  });
  return {
    /** Starts the test's server; `dataDir` reopens a stopped one's data (a restart). */
    async boot(cloud: PeerCloud = new PeerCloud(), dataDir?: string): Promise<TestServer> {
      current = await startTestServer({ connectors: new Map([["peer", cloud]]), dataDir });
      return current;
    },
    /** An agent peer closed with the test. */
    peer(token: string): AgentPeer {
      if (!current) throw new Error("boot the test's server first");
      const p = new AgentPeer(current.url, token);
      peers.push(p);
      return p;
    },
    /** A peer for each of these instances once `cloud` has launched it (the tutorial's two by default), in order. */
    async launched(cloud: PeerCloud, instances: string[] = ["apache.1", "client.1"]): Promise<AgentPeer[]> {
      return Promise.all(instances.map(async (i) => this.peer((await cloud.launched(i)).token)));
    },
    /** Closes the peers and the server, keeping its data for a following boot(cloud, s.dataDir). */
    async stop(): Promise<void> {
      closePeers();
      await current?.close();
      current = null;
    },
  };
}

/** The seed's tutorial with both nodes on the cloud "peer", keep-running never unless `extra` says otherwise. */
export async function tutorialRun(s: TestServer, extra: Record<string, unknown> = {}): Promise<RunDetail> {
  const res = await s.api<RunDetail>("POST", "/api/runs", {
    module: "examples/tutorials/service-testing/system",
    clouds: { apache: "peer", client: "peer" },
    keepRunning: "never",
    ...extra,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}
