import { describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import type { InstanceLaunch } from "../connectors/types.js";
import {
  type AgentPeer,
  completeThrough,
  PeerCloud,
  runReaches as reaches,
  type TestServer,
} from "../testing/harness.js";
import { serverPerTest, tutorialRun } from "../testing/per-test.js";

const t = serverPerTest();

/** A peer cloud whose start or stop of some machines never returns: the server goes down meanwhile. */
class StuckCloud extends PeerCloud {
  constructor(
    private readonly stuckStart: string[] = [],
    private readonly stuckStop: string[] = [],
  ) {
    super();
  }

  override start(launch: InstanceLaunch) {
    if (this.stuckStart.includes(launch.instance)) return new Promise<never>(() => {});
    return super.start(launch);
  }

  override stop(instance: { instance: string }) {
    if (this.stuckStop.includes(instance.instance)) return new Promise<never>(() => {});
    return super.stop(instance);
  }
}

const boot = (cloud: PeerCloud, dataDir?: string) => t.boot(cloud, dataDir);

async function createRun(s: TestServer, extra: Record<string, unknown> = {}): Promise<RunDetail> {
  return tutorialRun(s, extra);
}

function peer(_s: TestServer, launch: InstanceLaunch): AgentPeer {
  return t.peer(launch.token);
}

function statuses(s: TestServer, runId: string): Record<string, string> {
  const rows = s.app.db.$client.prepare("select name, status from instances where run_id = ?").all(runId) as {
    name: string;
    status: string;
  }[];
  return Object.fromEntries(rows.map((r) => [r.name, r.status]));
}

/** Resolves once `pred` holds, checked after each committed batch of the run's events. */
async function eventually(s: TestServer, runId: string, pred: () => boolean): Promise<void> {
  if (pred()) return;
  await new Promise<void>((resolve) => {
    const l = (id: string) => {
      if (id !== runId || !pred()) return;
      s.app.bus.off("events", l);
      resolve();
    };
    s.app.bus.on("events", l);
  });
}

async function restart(s: TestServer, cloud: PeerCloud): Promise<TestServer> {
  await t.stop();
  return boot(cloud, s.dataDir);
}

describe("boot reconcile", () => {
  it("instances added by a scale that committed just before the server went down are started at boot", async () => {
    const cloud = new StuckCloud(["client.2"]);
    const s = await boot(cloud);
    const run = await createRun(s, { scalable: true });
    const apacheLaunch = await cloud.launched("apache.1");
    const clientLaunch = await cloud.launched("client.1");
    await completeThrough([peer(s, apacheLaunch), peer(s, clientLaunch)]);
    await reaches(s, run.id, "Ready");
    const scaled = await s.api<RunDetail>("POST", `/api/runs/${run.id}/scale`, { node: "client", add: 1 });
    expect(scaled.status, JSON.stringify(scaled.body)).toBe(200);
    expect(statuses(s, run.id)["client.2"]).toBe("starting");

    const cloud2 = new PeerCloud();
    const s2 = await restart(s, cloud2);
    // started by the reconcile, and only it: the machines that are up are left alone
    expect([...cloud2.launches.keys()]).toEqual(["client.2"]);
    expect((await s2.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.state).toBe("Provisioning");
    await completeThrough([
      peer(s2, apacheLaunch),
      peer(s2, clientLaunch),
      peer(s2, await cloud2.launched("client.2")),
    ]);
    const ready = await reaches(s2, run.id, "Ready");
    expect(ready.abort).toBeNull();
    expect(ready.instances.map((i) => [i.name, i.live, i.cameUp])).toEqual([
      ["apache.1", true, true],
      ["client.1", true, true],
      ["client.2", true, true],
    ]);
    expect(cloud2.stopped).toEqual([]);
  });

  it("a removed instance whose machine was not yet stopped is stopped at boot", async () => {
    const cloud = new StuckCloud([], ["client.2"]);
    const s = await boot(cloud);
    const run = await createRun(s, { scalable: true, multiplicity: { client: 2 } });
    const launches = await Promise.all(["apache.1", "client.1", "client.2"].map((i) => cloud.launched(i)));
    await completeThrough(launches.map((l) => peer(s, l)));
    await reaches(s, run.id, "Ready");
    const scaled = await s.api<RunDetail>("POST", `/api/runs/${run.id}/scale`, { node: "client", remove: [2] });
    expect(scaled.status, JSON.stringify(scaled.body)).toBe(200);
    // its agent is connected (it would send its report first): the machine is stopped when it leaves, which
    // it does as the server goes down; that stop never returns
    expect(statuses(s, run.id)["client.2"]).toBe("running");

    const cloud2 = new PeerCloud();
    const s2 = await restart(s, cloud2);
    expect(cloud2.stopped).toEqual(["client.2"]);
    expect(cloud2.launches.size).toBe(0);
    await eventually(s2, run.id, () => statuses(s2, run.id)["client.2"] === "stopped");
    // the rest of the run goes on
    await completeThrough([peer(s2, launches[0]), peer(s2, launches[1])]);
    expect((await reaches(s2, run.id, "Ready")).abort).toBeNull();
    expect(cloud2.stopped).toEqual(["client.2"]);
  });

  it("an ended run whose machines were still being stopped has them stopped at boot", async () => {
    const cloud = new StuckCloud([], ["apache.1", "client.1"]);
    const s = await boot(cloud);
    const run = await createRun(s);
    await reaches(s, run.id, "Provisioning");
    expect((await s.api("POST", `/api/runs/${run.id}/terminate`)).status).toBe(200);
    await reaches(s, run.id, "Cancelled");
    expect(statuses(s, run.id)).toEqual({ "apache.1": "stopping", "client.1": "stopping" });

    const cloud2 = new PeerCloud();
    const s2 = await restart(s, cloud2);
    expect(cloud2.stopped.sort()).toEqual(["apache.1", "client.1"]);
    await eventually(s2, run.id, () => Object.values(statuses(s2, run.id)).join() === "stopped,stopped");
    expect((await s2.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.state).toBe("Cancelled");
  });
});
