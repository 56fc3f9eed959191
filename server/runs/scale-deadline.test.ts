import { describe, expect, it } from "vitest";
import { TIMEOUT_MESSAGE } from "../../core/run-machine.js";
import type { RunDetail, RunEvent } from "../../protocol/run.js";
import {
  type AgentPeer,
  completeThrough,
  PeerCloud,
  runReaches as reaches,
  type TestServer,
} from "../testing/harness.js";
import { serverPerTest, tutorialRun } from "../testing/per-test.js";

const t = serverPerTest();

const boot = (cloud = new PeerCloud(), dataDir?: string) => t.boot(cloud, dataDir);

async function createRun(s: TestServer, extra: Record<string, unknown> = {}): Promise<RunDetail> {
  return tutorialRun(s, { timeoutMinutes: 30, ...extra });
}

async function connect(_s: TestServer, cloud: PeerCloud, instance: string): Promise<AgentPeer> {
  return t.peer((await cloud.launched(instance)).token);
}

function storedDeadline(s: TestServer, runId: string): string | null {
  return (s.app.db.$client.prepare("select deadline_at from runs where id = ?").get(runId) as { deadline_at: string })
    .deadline_at;
}

function setStoredDeadline(s: TestServer, runId: string, at: string): void {
  s.app.db.$client.prepare("update runs set deadline_at = ? where id = ?").run(at, runId);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("run deadlines", () => {
  it("a scalable run scaled after its original deadline passed does not time out: the scale renews the deadline", async () => {
    const cloud = new PeerCloud();
    const s = await boot(cloud);
    const run = await createRun(s, { scalable: true });
    const apache = await connect(s, cloud, "apache.1");
    const client = await connect(s, cloud, "client.1");
    await completeThrough([apache, client]);
    expect((await reaches(s, run.id, "Ready")).abort).toBeNull();

    // the run sat in Ready past its original deadline
    setStoredDeadline(s, run.id, new Date(Date.now() - 60_000).toISOString());
    const before = Date.now();
    const scaled = await s.api<RunDetail>("POST", `/api/runs/${run.id}/scale`, { node: "client", add: 1 });
    expect(scaled.status, JSON.stringify(scaled.body)).toBe(200);
    expect(scaled.body.state).toBe("Provisioning");

    // renewed to now + the run's timeout, in the row and in the runtime
    const renewed = Date.parse(storedDeadline(s, run.id)!);
    expect(renewed).toBeGreaterThanOrEqual(before + 30 * 60_000);
    expect(renewed).toBeLessThanOrEqual(Date.now() + 30 * 60_000);
    expect(scaled.body.deadline).toBe(storedDeadline(s, run.id));

    // the timer is armed again (as by any later run creation or a restart): a due deadline would fire at once
    s.app.deadlines.arm();
    await sleep(100);
    const after = (await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
    expect(after.state).toBe("Provisioning");
    expect(after.abort).toBeNull();

    const added = await connect(s, cloud, "client.2");
    await completeThrough([apache, client, added]);
    const ready = await reaches(s, run.id, "Ready");
    expect(ready.abort).toBeNull();
    expect(ready.nodes.find((n) => n.name === "client")?.multiplicity).toBe(2);
    const evs = (await s.api<{ events: RunEvent[] }>("GET", `/api/runs/${run.id}/events?limit=10000`)).body.events;
    expect(evs.some((e) => e.body.type === "state" && e.body.to === "Finalizing")).toBe(false);
  });

  it("a stored deadline that has passed fires: the run is aborted 'Run timed out' and its machines stopped", async () => {
    const cloud = new PeerCloud();
    const s = await boot(cloud);
    const run = await createRun(s);
    await reaches(s, run.id, "Provisioning");
    setStoredDeadline(s, run.id, new Date(Date.now() - 1000).toISOString());
    s.app.deadlines.arm();
    const end = await reaches(s, run.id, "Aborted");
    expect(end.abort).toBe(TIMEOUT_MESSAGE);
    expect(cloud.stopped.sort()).toEqual(["apache.1", "client.1"]);
  });

  it("a deadline that passed while the server was down fires after the restart", async () => {
    const cloud = new PeerCloud();
    const s = await boot(cloud);
    const dataDir = s.dataDir;
    const run = await createRun(s);
    await reaches(s, run.id, "Provisioning");
    // the timer of this server is armed for the original deadline (30 minutes on): it does not fire before close
    setStoredDeadline(s, run.id, new Date(Date.now() - 1000).toISOString());
    await t.stop();

    const cloud2 = new PeerCloud();
    const s2 = await boot(cloud2, dataDir);
    const end = await reaches(s2, run.id, "Aborted");
    expect(end.abort).toBe(TIMEOUT_MESSAGE);
    expect(cloud2.stopped.sort()).toEqual(["apache.1", "client.1"]);
  });
});
