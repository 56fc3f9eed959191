import { describe, expect, it } from "vitest";
import type { RunDetail, RunEvent } from "../../protocol/run.js";
import type { InstanceLaunch, StopTarget } from "../connectors/types.js";
import { completeThrough, PeerCloud, runEnds, runReaches } from "../testing/harness.js";
import { serverPerTest, tutorialRun } from "../testing/per-test.js";
import { RunWatcher } from "../testing/watch.js";

/** run-rules S1 (the `complete` flag) and S2 (terminate while Finalizing), with the real server and agent peers. */

/** A cloud whose machines take until `release()` to stop: the run stays in Finalizing meanwhile. */
class SlowStopCloud extends PeerCloud {
  private opened!: () => void;
  private readonly gate = new Promise<void>((resolve) => {
    this.opened = resolve;
  });
  release(): void {
    this.opened();
  }
  override async stop(instance: StopTarget): Promise<void> {
    await this.gate;
    return super.stop(instance);
  }
}

/**
 * A cloud where `apache.1`'s machine takes until `startApache()` to start, and every stop until `releaseStops()`:
 * the run can be held in Finalizing while that start is still in flight.
 */
class SlowStartCloud extends PeerCloud {
  private startOpen!: () => void;
  private readonly startGate = new Promise<void>((resolve) => {
    this.startOpen = resolve;
  });
  private stopOpen!: () => void;
  private readonly stopGate = new Promise<void>((resolve) => {
    this.stopOpen = resolve;
  });
  startApache(): void {
    this.startOpen();
  }
  releaseStops(): void {
    this.stopOpen();
  }
  override async start(launch: InstanceLaunch) {
    if (launch.instance === "apache.1") await this.startGate;
    return super.start(launch);
  }
  override async stop(instance: StopTarget): Promise<void> {
    await this.stopGate;
    return super.stop(instance);
  }
}

const t = serverPerTest();

async function readyRun(cloud: PeerCloud) {
  const s = await t.boot(cloud);
  const run = await tutorialRun(s, { keepRunning: "always" });
  const peers = await t.launched(cloud);
  await completeThrough(peers);
  await runReaches(s, run.id, "Ready");
  return { s, run };
}

describe("terminate", () => {
  it("S2: while Finalizing it is accepted and changes nothing; the run ends as it was going to", async () => {
    const cloud = new SlowStopCloud();
    const { s, run } = await readyRun(cloud);
    expect((await s.api("POST", `/api/runs/${run.id}/terminate`)).status).toBe(200);
    expect((await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.state).toBe("Finalizing");
    for (let i = 0; i < 2; i++) expect((await s.api("POST", `/api/runs/${run.id}/terminate`)).status).toBe(200);
    cloud.release();
    expect((await runEnds(s, run.id)).state).toBe("Done");
    const events = (await s.api<{ events: RunEvent[] }>("GET", `/api/runs/${run.id}/events?limit=1000`)).body.events;
    expect(events.filter((e) => e.body.type === "terminate")).toHaveLength(1);
    // ended: now it is a conflict
    expect((await s.api("POST", `/api/runs/${run.id}/terminate`)).status).toBe(409);
  });

  it("R15/R11: a machine whose start was in flight when the deadline moved the run to Finalizing is stopped", async () => {
    const cloud = new SlowStartCloud();
    const s = await t.boot(cloud);
    const run = await tutorialRun(s);
    await cloud.launched("client.1");
    // the deadline passes in Initializing (R15): first an abort, then, the grace over too, Finalizing, whose stops
    // hold it there while apache.1 comes up
    const passDeadline = () => {
      s.app.db.$client
        .prepare("update runs set deadline_at = ? where id = ?")
        .run(new Date(Date.now() - 1000).toISOString(), run.id);
      s.app.deadlines.arm();
    };
    const aborted = new RunWatcher(s.url, s.token, run.id);
    passDeadline();
    await aborted.until((e) => e.body.type === "abort");
    aborted.close();
    passDeadline();
    await runReaches(s, run.id, "Finalizing");
    cloud.startApache();
    await cloud.launched("apache.1");
    cloud.releaseStops();
    expect((await runEnds(s, run.id)).state).toBe("Aborted");
    // before: stopping every machine had passed apache.1 by (no machine yet), and nothing stopped it afterwards
    expect(cloud.stopped.sort()).toEqual(["apache.1", "client.1"]);
  });

  it("S1: <ni>:complete is true once the instance completed the state, false again when the run moves on", async () => {
    const cloud = new PeerCloud();
    const { s, run } = await readyRun(cloud);
    const events = (await s.api<{ events: RunEvent[] }>("GET", `/api/runs/${run.id}/events?limit=1000`)).body.events;
    const values = events.flatMap((e) =>
      e.body.type === "param" && e.body.key === "apache.1:complete" ? [e.body.value] : [],
    );
    // declared false; then per state: true when apache.1 completes it, false when the run enters the next
    expect(values).toEqual(["false", "true", "false", "true", "false", "true", "false", "true"]);
    await s.api("POST", `/api/runs/${run.id}/terminate`);
    await runEnds(s, run.id);
  });
});
