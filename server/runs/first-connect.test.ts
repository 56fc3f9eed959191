import { describe, expect, it } from "vitest";
import type { RunDetail, RunEvent } from "../../protocol/run.js";
import { PeerCloud } from "../testing/harness.js";
import { serverPerTest, tutorialRun } from "../testing/per-test.js";
import { RunWatcher } from "../testing/watch.js";

/**
 * Run-rules S4b: an agent that dies before its first connect (killed, crashed, its process never started) is
 * awaited for the run's grace from its machine's start, then its instance is lost and the run aborts: it does not
 * wait for the run's timeout. The peer cloud starts machines whose agents the test connects, or not.
 */
const t = serverPerTest();

describe("S4b an agent that never connects", () => {
  it("is lost after the grace from its machine's start; the run aborts and its connected peer sends its report", async () => {
    const cloud = new PeerCloud();
    const s = await t.boot(cloud);
    const run = await tutorialRun(s, { lostAfterSeconds: 2 });
    const w = new RunWatcher(s.url, s.token, run.id);
    // apache's agent connects; client's machine starts but its agent never does
    const apache = await t.peer((await cloud.launched("apache.1")).token);
    await cloud.launched("client.1");
    const lost = await w.until((e) => e.body.type === "instance" && e.body.status === "lost");
    expect(lost.body).toMatchObject({
      instance: "client.1",
      detail: "its agent never connected within 2 s of its machine starting",
    });
    const abort = await w.until((e) => e.body.type === "abort");
    expect(abort.body).toMatchObject({ message: "agent of client.1 lost" });
    // no "back" or "unresponsive" for an agent that was never there
    const seen = w.events.filter((e: RunEvent) => e.body.type === "instance" && e.body.instance === "client.1");
    expect(seen.map((e) => (e.body as { status: string }).status)).not.toContain("back");
    await apache.completeWhen("Provisioning");
    const detail = (await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
    expect(detail.abort).toBe("agent of client.1 lost");
    expect(detail.instances.find((i) => i.name === "client.1")?.liveness).toBe("lost");
    w.close();
  });

  it("an agent that connects within the grace carries on, with no event about it", async () => {
    const cloud = new PeerCloud();
    const s = await t.boot(cloud);
    const run = await tutorialRun(s, { lostAfterSeconds: 2 });
    const w = new RunWatcher(s.url, s.token, run.id);
    await cloud.launched("client.1");
    await new Promise((r) => setTimeout(r, 1000));
    const client = await t.peer((await cloud.launched("client.1")).token);
    const apache = await t.peer((await cloud.launched("apache.1")).token);
    await Promise.all([apache.completeWhen("Provisioning"), client.completeWhen("Provisioning")]);
    await Promise.all([apache.until((st) => st.state === "Executing"), client.until((st) => st.state === "Executing")]);
    // past the grace of the first start: nothing was declared
    await new Promise((r) => setTimeout(r, 2500));
    const detail = (await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
    expect(detail.abort).toBeNull();
    expect(w.events.some((e) => e.body.type === "instance" && ["lost", "back"].includes(e.body.status))).toBe(false);
    w.close();
  });
});
