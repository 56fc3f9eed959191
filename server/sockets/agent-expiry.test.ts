import { describe, expect, it } from "vitest";
import type { Ack } from "../../protocol/ack.js";
import type { RunDetail, RunEvent } from "../../protocol/run.js";
import { type AgentPeer, completeThrough, PeerCloud, type TestServer } from "../testing/harness.js";
import { serverPerTest, tutorialRun } from "../testing/per-test.js";

/** An agent token stops working when its run ends: already-open /agent sockets included, not only new ones. */

const t = serverPerTest();

async function boot() {
  const cloud = new PeerCloud();
  const server = await t.boot(cloud);
  const run = await tutorialRun(server);
  const connectPeer = async (instance: string) => {
    const peer = t.peer((await cloud.launched(instance)).token);
    return { peer, hungUp: disconnected(peer) };
  };
  return { s: server, run, apache: await connectPeer("apache.1"), client: await connectPeer("client.1") };
}

/** The reason the server gave for hanging up this peer. */
function disconnected(peer: AgentPeer): Promise<string> {
  return new Promise((resolve) => peer.socket.once("disconnect", (reason) => resolve(reason)));
}

function within<T>(p: Promise<T>, what: string, ms = 3000): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)),
  ]);
}

async function events(s: TestServer, runId: string): Promise<RunEvent[]> {
  return (await s.api<{ events: RunEvent[] }>("GET", `/api/runs/${runId}/events?limit=10000`)).body.events;
}

/** After the hang-up: the token cannot reconnect, and nothing the peer asks reaches the run. */
async function tokenIsDead(s: TestServer, runId: string, peer: AgentPeer, instance: string) {
  const before = await events(s, runId);
  const refused = new Promise<string>((resolve) => peer.socket.once("connect_error", (err) => resolve(err.message)));
  const answers: Promise<Ack<unknown>>[] = [
    peer.call("log:append", { chunk: 10_000, target: "agent", stream: "agent", data: "after the end\n" }),
    peer.call("param:get", { key: `${instance}:hostname`, timeout: 1 }),
  ];
  peer.socket.connect();
  expect(await within(refused, "the reconnect to be refused")).toMatch(/^UNAUTHORIZED/);
  // the requests were never answered (nor sent): race them against a short wait
  const unanswered = await Promise.race([
    Promise.any(answers).then(() => false),
    new Promise<boolean>((r) => setTimeout(() => r(true), 300)),
  ]);
  expect(unanswered).toBe(true);
  expect(await events(s, runId)).toEqual(before);
}

describe("agent sockets when their run ends", () => {
  it("a run terminated before Ready: its agents get Cancelled, are hung up, and a pending wait is refused", async () => {
    const { s, run, apache, client } = await boot();
    await Promise.all([apache.peer.completeWhen("Provisioning"), client.peer.completeWhen("Provisioning")]);
    await client.peer.until((st) => st.state === "Executing");
    const waiting = client.peer.call("param:get", { key: "client.1:webserver.ready", timeout: 0 });
    // the token works while the run lives
    expect(
      (await apache.peer.call("log:append", { chunk: 1, target: "agent", stream: "agent", data: "hi\n" })).ok,
    ).toBe(true);

    expect((await s.api("POST", `/api/runs/${run.id}/terminate`)).status).toBe(200);
    // the last push still arrives (the agent stops on it), then the server hangs up
    for (const a of [apache, client]) {
      expect(await within(a.hungUp, "the server to hang up")).toBe("io server disconnect");
      expect(a.peer.state?.state).toBe("Cancelled");
    }
    expect(await waiting).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    await tokenIsDead(s, run.id, apache.peer, "apache.1");
    await tokenIsDead(s, run.id, client.peer, "client.1");
  });

  it("a run that finishes: Finalizing, then Done, then the hang-up", async () => {
    const { s, run, apache, client } = await boot();
    const seen: string[] = [];
    apache.peer.socket.on("run:state", (st) => seen.push(st.state));
    await completeThrough([apache.peer, client.peer]);
    expect(await within(apache.hungUp, "the server to hang up")).toBe("io server disconnect");
    expect(await within(client.hungUp, "the server to hang up")).toBe("io server disconnect");
    expect(seen).toContain("Finalizing");
    expect(seen.at(-1)).toBe("Done");
    expect((await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.state).toBe("Done");
    await tokenIsDead(s, run.id, apache.peer, "apache.1");
  });
});
