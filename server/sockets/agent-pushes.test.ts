import { describe, expect, it } from "vitest";
import type { AgentRunState } from "../../protocol/agent-socket.js";
import { type AgentPeer, PeerCloud } from "../testing/harness.js";
import { serverPerTest, tutorialRun } from "../testing/per-test.js";

/**
 * `run:state` pushes to a run's agents: an agent gets one when its own view changes (its instance completed the
 * state, or is no longer live) or the run's part does (state, abort, recovery mode, scaling), and no other. A commit
 * that changes one instance looks only at that instance's agent (server/sockets/agent.ts).
 */

const t = serverPerTest();

/** Every `run:state` the peer receives from now on. */
function recorded(peer: AgentPeer): AgentRunState[] {
  const got: AgentRunState[] = [];
  peer.socket.on("run:state", (s) => got.push(s));
  return got;
}

/** A round trip on the peer's socket (answered or refused): what the server pushed to it before has arrived. */
async function synced(peer: AgentPeer): Promise<void> {
  await peer.call("param:get", { key: "ss:state", timeout: 1 });
}

describe("run:state pushes to a run's agents", () => {
  it("an instance's completion is pushed to its own agent alone; a state change and an abort to every agent", async () => {
    const cloud = new PeerCloud();
    const s = await t.boot(cloud);
    const run = await tutorialRun(s, { multiplicity: { client: 3 } });
    const names = run.instances.map((i) => i.name);
    expect(names).toEqual(["apache.1", "client.1", "client.2", "client.3"]);
    const peers = new Map<string, AgentPeer>();
    for (const name of names) peers.set(name, t.peer((await cloud.launched(name)).token));
    await Promise.all([...peers.values()].map((p) => p.until((st) => st.state === "Provisioning")));
    const pushes = new Map([...peers].map(([name, p]) => [name, recorded(p)]));

    const first = peers.get("client.2")!;
    expect((await first.call("state:complete", { state: "Provisioning" })).ok).toBe(true);
    await first.until((st) => st.completed);
    for (const p of peers.values()) await synced(p);
    expect(pushes.get("client.2")!.map((st) => [st.state, st.completed])).toEqual([["Provisioning", true]]);
    for (const name of ["apache.1", "client.1", "client.3"]) expect(pushes.get(name), name).toEqual([]);

    // the others complete: the run moves to Executing, and every agent hears of it
    for (const name of ["apache.1", "client.1", "client.3"]) {
      expect((await peers.get(name)!.call("state:complete", { state: "Provisioning" })).ok).toBe(true);
    }
    await Promise.all([...peers.values()].map((p) => p.until((st) => st.state === "Executing")));
    for (const p of peers.values()) await synced(p);
    for (const [name, got] of pushes) {
      expect(got.at(-1), name).toMatchObject({ state: "Executing", completed: false, abort: null });
    }
    // each of the three completed its own Provisioning after the first: one push for that, then Executing
    for (const name of ["apache.1", "client.1", "client.3"]) {
      expect(pushes.get(name)!.filter((st) => st.state === "Provisioning").length, name).toBeLessThanOrEqual(1);
    }

    // the run's part changes (an abort): every agent gets it, though no instance changed
    const counts = new Map([...pushes].map(([name, got]) => [name, got.length]));
    const abort = await s.api("POST", `/api/runs/${run.id}/abort`, { message: "stop here" });
    expect(abort.status).toBe(200);
    await Promise.all([...peers.values()].map((p) => p.until((st) => st.abort === "stop here")));
    for (const p of peers.values()) await synced(p);
    for (const [name, got] of pushes) {
      expect(got.length, name).toBe(counts.get(name)! + 1);
      expect(got.at(-1), name).toMatchObject({ state: "Executing", abort: "stop here" });
    }
  });
});
