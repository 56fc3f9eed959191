import { describe, expect, it } from "vitest";
import type { RunDetail, RunEvent } from "../../protocol/run.js";
import { completeThrough, PeerCloud, type TestServer } from "../testing/harness.js";
import { serverPerTest, tutorialRun } from "../testing/per-test.js";

/**
 * Requests re-sent after a reconnect (same request id, because their ack was lost) are answered as the first time
 * without acting twice; waits are dropped when their command exits (param:cancel) or their connection goes.
 */

const APACHE = "examples/tutorials/service-testing/apache";
const t = serverPerTest();

async function boot() {
  const cloud = new PeerCloud();
  return { s: await t.boot(cloud), cloud };
}

async function connectPeer(_s: TestServer, cloud: PeerCloud, instance: string) {
  return t.peer((await cloud.launched(instance)).token);
}

async function events(s: TestServer, runId: string): Promise<RunEvent[]> {
  return (await s.api<{ events: RunEvent[] }>("GET", `/api/runs/${runId}/events?limit=10000`)).body.events;
}

/** The tutorial, both peers connected and in Executing. */
async function executingRun() {
  const { s, cloud } = await boot();
  const run = await tutorialRun(s);
  const apache = await connectPeer(s, cloud, "apache.1");
  const client = await connectPeer(s, cloud, "client.1");
  await Promise.all([apache.completeWhen("Provisioning"), client.completeWhen("Provisioning")]);
  await Promise.all([apache.until((st) => st.state === "Executing"), client.until((st) => st.state === "Executing")]);
  return { s, cloud, runId: run.id, apache, client, rt: s.app.runs.get(run.id) };
}

/** A scalable one-machine run driven to Ready, where scaling is allowed. */
async function readyScalableRun() {
  const { s, cloud } = await boot();
  const res = await s.api<RunDetail>("POST", "/api/runs", {
    module: APACHE,
    clouds: { machine: "peer" },
    scalable: true,
    keepRunning: "always",
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const peer = await connectPeer(s, cloud, "machine.1");
  await completeThrough([peer], ["Provisioning", "Executing", "SendingReports"]);
  await peer.until((st) => st.state === "Ready");
  return { s, cloud, runId: res.body.id, peer, rt: s.app.runs.get(res.body.id) };
}

describe("agent requests re-sent after a reconnect", () => {
  it("run:abort re-sent with the same request id gets the same answer and logs one abort", async () => {
    const { s, runId, apache } = await executingRun();
    const first = await apache.call("run:abort", { requestId: "r-1", message: "apache failed" });
    expect(first).toEqual({ ok: true, data: { abort: "apache failed" } });
    await apache.reconnect();
    const again = await apache.call("run:abort", { requestId: "r-1", message: "apache failed" });
    expect(again).toEqual(first);
    const aborts = (await events(s, runId)).filter((e) => e.body.type === "abort");
    expect(aborts).toHaveLength(1);
    // another request (another id) still acts
    await apache.call("run:abort", { requestId: "r-2", message: "again" });
    expect((await events(s, runId)).filter((e) => e.body.type === "abort")).toHaveLength(2);
  });

  it("param:set re-sent after another write does not write its old value again", async () => {
    const { s, runId, apache, client, rt } = await executingRun();
    const key = "apache.1:port";
    const first = await apache.call("param:set", { requestId: "s-1", key, value: "8080" });
    expect(first.ok).toBe(true);
    // a script sets it again meanwhile; then the first write is re-sent (its ack was lost)
    expect((await apache.call("param:set", { requestId: "s-2", key, value: "9090" })).ok).toBe(true);
    await apache.reconnect();
    expect(await apache.call("param:set", { requestId: "s-1", key, value: "8080" })).toEqual(first);
    expect(rt.params.get(key)?.value).toBe("9090");
    const writes = (await events(s, runId)).filter((e) => e.body.type === "param" && e.body.key === key);
    expect(writes.map((e) => (e.body as { value: string }).value)).toEqual(["8080", "9090"]);
    // the same request id from another instance is another request
    expect(await client.call("param:set", { requestId: "s-1", key: "client.1:statecustom", value: "x" })).toEqual({
      ok: true,
      data: { seq: expect.any(Number) },
    });
  });

  it("node:add re-sent with the same id on a Ready scalable run answers the same instances and adds them once", async () => {
    const { peer, rt } = await readyScalableRun();
    const first = await peer.call("node:add", { requestId: "a-1", node: "machine", count: 1 });
    expect(first).toEqual({ ok: true, data: { added: ["machine.2"] } });
    await peer.reconnect();
    expect(await peer.call("node:add", { requestId: "a-1", node: "machine", count: 1 })).toEqual(first);
    expect([...rt.instances.keys()].sort()).toEqual(["machine.1", "machine.2"]);
  });

  it("node:remove re-sent with the same id answers the same removal instead of BAD_REQUEST", async () => {
    const { peer, rt, cloud, s } = await readyScalableRun();
    expect(await peer.call("node:add", { requestId: "a-1", node: "machine", count: 1 })).toMatchObject({ ok: true });
    const second = await connectPeer(s, cloud, "machine.2");
    await completeThrough([peer, second], ["Provisioning", "Executing", "SendingReports"]);
    await Promise.all([peer.until((st) => st.state === "Ready"), second.until((st) => st.state === "Ready")]);
    const first = await peer.call("node:remove", { requestId: "d-1", node: "machine", ids: [2] });
    expect(first).toEqual({ ok: true, data: { removed: ["machine.2"] } });
    await peer.reconnect();
    expect(await peer.call("node:remove", { requestId: "d-1", node: "machine", ids: [2] })).toEqual(first);
    expect(rt.liveInstances("machine").map((i) => i.name)).toEqual(["machine.1"]);
  });

  it("answers past the bound of those kept in memory come from SQLite: the oldest does not act again", async () => {
    const { apache, s, runId } = await executingRun();
    const { REMEMBERED_ANSWERS } = await import("./agent.js");
    let first: unknown;
    for (let i = 0; i <= REMEMBERED_ANSWERS; i++) {
      const ack = await apache.call("param:set", { requestId: `b-${i}`, key: "apache.1:port", value: String(i) });
      if (i === 0) first = ack;
    }
    const count = () =>
      events(s, runId).then((evs) => evs.filter((e) => e.body.type === "param" && e.body.key === "apache.1:port"));
    const before = (await count()).length;
    await apache.call("param:set", { requestId: `b-${REMEMBERED_ANSWERS}`, key: "apache.1:port", value: "x" });
    expect((await count()).length).toBe(before);
    expect(await apache.call("param:set", { requestId: "b-0", key: "apache.1:port", value: "0" })).toEqual(first);
    expect((await count()).length).toBe(before);
  });
});

describe("waits of commands and connections that are gone", () => {
  it("param:cancel drops the wait of a param:get: the run's waiter count goes back down", async () => {
    const { client, rt } = await executingRun();
    const waiting = client.call("param:get", { requestId: "g-1", key: "client.1:webserver.ready", timeout: 0 });
    await expect.poll(() => rt.waiters.size).toBe(1);
    expect(await client.call("param:cancel", { wait: "g-1" })).toEqual({ ok: true, data: { cancelled: 1 } });
    expect(rt.waiters.size).toBe(0);
    expect(await waiting).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    // a copy of the cancelled wait that arrives late is refused, not parked
    expect(
      await client.call("param:get", { requestId: "g-1", key: "client.1:webserver.ready", timeout: 0 }),
    ).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    expect(rt.waiters.size).toBe(0);
  });

  it("param:cancel drops every wait of a param:get-all", async () => {
    const { client, rt } = await executingRun();
    void client.call("param:get-all", { requestId: "ga-1", node: "apache", name: "ready", timeout: 0 });
    await expect.poll(() => rt.waiters.size).toBe(1);
    expect(await client.call("param:cancel", { wait: "ga-1" })).toEqual({ ok: true, data: { cancelled: 1 } });
    expect(rt.waiters.size).toBe(0);
  });

  it("a disconnect drops the connection's waits; the re-send after the reconnect waits again, once", async () => {
    const { apache, client, rt } = await executingRun();
    void client.call("param:get", { requestId: "g-1", key: "client.1:webserver.ready", timeout: 0 });
    await expect.poll(() => rt.waiters.size).toBe(1);
    await client.reconnect();
    await expect.poll(() => rt.waiters.size).toBe(0);
    const resent = client.call("param:get", { requestId: "g-1", key: "client.1:webserver.ready", timeout: 0 });
    await expect.poll(() => rt.waiters.size).toBe(1);
    expect((await apache.call("param:set", { key: "apache.1:ready", value: "true" })).ok).toBe(true);
    expect(await resent).toEqual({ ok: true, data: { value: "true" } });
    expect(rt.waiters.size).toBe(0);
  });
});
