import { describe, expect, it } from "vitest";
import type { RunDetail, RunEvent, RuntimeParam } from "../../protocol/run.js";
import { completeThrough, PeerCloud, type TestServer } from "../testing/harness.js";
import { serverPerTest, tutorialRun } from "../testing/per-test.js";

const t = serverPerTest();

async function boot(cloud = new PeerCloud(), dataDir?: string) {
  return { s: await t.boot(cloud, dataDir), cloud };
}

async function createTutorialRun(s: TestServer, extra: Record<string, unknown> = {}) {
  return tutorialRun(s, extra);
}

async function connectPeer(_s: TestServer, cloud: PeerCloud, instance: string) {
  return t.peer((await cloud.launched(instance)).token);
}

async function events(s: TestServer, runId: string): Promise<RunEvent[]> {
  return (await s.api<{ events: RunEvent[] }>("GET", `/api/runs/${runId}/events?limit=10000`)).body.events;
}

function states(evs: RunEvent[]): string[] {
  return evs.flatMap((e) => (e.body.type === "state" ? [e.body.to] : []));
}

async function runEnds(s: TestServer, runId: string, state: string): Promise<RunDetail> {
  // the run service pushes run-changed on the bus when the state moves; wait on that, not a poll
  const bus = s.app.bus;
  const current = await s.api<RunDetail>("GET", `/api/runs/${runId}`);
  if (current.body.state === state) return current.body;
  await new Promise<void>((resolve) => {
    const l = (m: { runId: string; state: string }) => {
      if (m.runId === runId && m.state === state) {
        bus.off("run-changed", l);
        resolve();
      }
    };
    bus.on("run-changed", l);
  });
  return (await s.api<RunDetail>("GET", `/api/runs/${runId}`)).body;
}

/** The next run-changed push of this run (the abort that follows an unknown key comes a tick after the answer). */
async function runChanged(s: TestServer, runId: string) {
  await new Promise<void>((resolve) => {
    const l = (m: { runId: string }) => {
      if (m.runId !== runId) return;
      s.app.bus.off("run-changed", l);
      resolve();
    };
    s.app.bus.on("run-changed", l);
  });
  return s.api<RunDetail>("GET", `/api/runs/${runId}`);
}

describe("a run of the tutorial driven through the agent protocol", () => {
  it("reaches Done through every state, with the mapping pushed and a gap-free event log", async () => {
    const { s, cloud } = await boot();
    const run = await createTutorialRun(s);
    expect(run.state).toBe("Initializing");
    expect(run.instances.map((i) => i.name).sort()).toEqual(["apache.1", "client.1"]);
    const apache = await connectPeer(s, cloud, "apache.1");
    const client = await connectPeer(s, cloud, "client.1");

    await Promise.all([apache.completeWhen("Provisioning"), client.completeWhen("Provisioning")]);
    await client.until((st) => st.state === "Executing");
    const waiting = client.call("param:get", { key: "client.1:webserver.ready", timeout: 0 });
    await apache.until((st) => st.state === "Executing");
    expect((await apache.call("param:set", { key: "apache.1:port", value: "8081" })).ok).toBe(true);
    expect((await apache.call("param:set", { key: "apache.1:ready", value: "true" })).ok).toBe(true);
    expect(await waiting).toEqual({ ok: true, data: { value: "true" } });
    const hostname = await client.call("param:get", { key: "client.1:webserver.hostname" });
    expect(hostname).toEqual({ ok: true, data: { value: "127.0.0.1" } });

    await completeThrough([apache, client], ["Executing", "SendingReports", "Ready"]);
    const done = await runEnds(s, run.id, "Done");
    expect(done.abort).toBeNull();

    const evs = await events(s, run.id);
    expect(evs.map((e) => e.seq)).toEqual(evs.map((_, i) => i + 1));
    expect(states(evs)).toEqual([
      "Initializing",
      "Provisioning",
      "Executing",
      "SendingReports",
      "Ready",
      "Finalizing",
      "Done",
    ]);
    const params = (await s.api<{ params: RuntimeParam[] }>("GET", `/api/runs/${run.id}/params`)).body.params;
    const value = (k: string) => params.find((p) => p.key === k)?.value;
    expect(value("client.1:webserver.port")).toBe("8081");
    expect(value("ss:state")).toBe("Done");
    expect(cloud.stopped.sort()).toEqual(["apache.1", "client.1"]);
    const reports = (await s.api<{ reports: { name: string }[] }>("GET", `/api/runs/${run.id}/reports`)).body.reports;
    expect(reports.map((r) => r.name)).toEqual([expect.stringMatching(/^orchestrator_report_\w+\.tgz$/)]);
  });

  it("abort answers every pending wait at once, drains through SendingReports and ends Aborted", async () => {
    const { s, cloud } = await boot();
    const run = await createTutorialRun(s);
    const apache = await connectPeer(s, cloud, "apache.1");
    const client = await connectPeer(s, cloud, "client.1");
    await Promise.all([apache.completeWhen("Provisioning"), client.completeWhen("Provisioning")]);
    await client.until((st) => st.state === "Executing");
    const waiting = client.call("param:get", { key: "client.1:webserver.ready", timeout: 0 });
    const ignoring = client.call("param:get", { key: "client.1:webserver.port", timeout: 0, ignoreAbort: true });

    const aborted = await apache.call("run:abort", { message: "apache could not start" });
    expect(aborted).toEqual({ ok: true, data: { abort: "apache could not start" } });
    expect(await waiting).toMatchObject({ ok: false, error: { code: "ABORTED" } });
    // second abort does not replace the first message
    await client.call("run:abort", { message: "second" });
    expect((await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.abort).toBe("apache could not start");
    // further gets and sets fail at once, unless they ignore the abort
    expect(await client.call("param:set", { key: "client.1:statecustom", value: "x" })).toMatchObject({
      ok: false,
      error: { code: "ABORTED" },
    });
    expect((await apache.call("param:set", { key: "apache.1:port", value: "1", ignoreAbort: true })).ok).toBe(true);
    expect(await ignoring).toEqual({ ok: true, data: { value: "1" } });

    await completeThrough([apache, client], ["Executing", "SendingReports", "Ready"]);
    const end = await runEnds(s, run.id, "Aborted");
    expect(end.abort).toBe("apache could not start");
    const evs = await events(s, run.id);
    expect(states(evs)).toEqual([
      "Initializing",
      "Provisioning",
      "Executing",
      "SendingReports",
      "Ready",
      "Finalizing",
      "Aborted",
    ]);
    const abortEvents = evs.filter((e) => e.body.type === "abort");
    expect(abortEvents.map((e) => [e.actor, (e.body as { first: boolean }).first])).toEqual([
      ["node:apache.1", true],
      ["node:client.1", false],
    ]);
  });

  it("an unknown key is refused with its name and aborts the run", async () => {
    const { s, cloud } = await boot();
    const run = await createTutorialRun(s);
    const client = await connectPeer(s, cloud, "client.1");
    await client.until((st) => st.state === "Provisioning");
    const changed = runChanged(s, run.id);
    const res = await client.call("param:get", { key: "client.1:no.such", timeout: 1 });
    expect(res).toEqual({ ok: false, error: { code: "UNKNOWN_KEY", message: "unknown key 'client.1:no.such'" } });
    const detail = (await changed).body;
    expect(detail.abort).toBe("client.1: unknown key 'client.1:no.such'");
    expect(detail.recoveryMode).toBe(true);
  });

  it("a stale completion is answered with a conflict and changes nothing", async () => {
    const { s, cloud } = await boot();
    const run = await createTutorialRun(s);
    const apache = await connectPeer(s, cloud, "apache.1");
    await apache.until((st) => st.state === "Provisioning");
    const before = (await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.lastSeq;
    expect(await apache.call("state:complete", { state: "Executing" })).toMatchObject({
      ok: false,
      error: { code: "CONFLICT" },
    });
    expect((await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.lastSeq).toBe(before);
  });

  it("terminate before Ready cancels and stops every machine; terminating again is a conflict", async () => {
    const { s, cloud } = await boot();
    const run = await createTutorialRun(s);
    await connectPeer(s, cloud, "apache.1");
    await connectPeer(s, cloud, "client.1");
    const res = await s.api<RunDetail>("POST", `/api/runs/${run.id}/terminate`);
    expect(res.status).toBe(200);
    const end = await runEnds(s, run.id, "Cancelled");
    expect(end.state).toBe("Cancelled");
    const again = await s.api<{ error: { code: string } }>("POST", `/api/runs/${run.id}/terminate`);
    expect(again.status).toBe(409);
    expect((await events(s, run.id)).some((e) => e.body.type === "terminate" && e.actor === "user:admin")).toBe(true);
  });

  it("a server restarted mid-run resumes from the persisted snapshot; the pending wait is answered", async () => {
    const cloud = new PeerCloud();
    const { s } = await boot(cloud);
    const dataDir = s.dataDir;
    const run = await createTutorialRun(s);
    const apacheLaunch = await cloud.launched("apache.1");
    const clientLaunch = await cloud.launched("client.1");
    const apache = await connectPeer(s, cloud, "apache.1");
    const client = await connectPeer(s, cloud, "client.1");
    await Promise.all([apache.completeWhen("Provisioning"), client.completeWhen("Provisioning")]);
    await client.until((st) => st.state === "Executing");
    const lastSeqBefore = (await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.lastSeq;
    await t.stop();

    const { s: s2 } = await boot(cloud, dataDir);
    const detail = (await s2.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
    expect(detail.state).toBe("Executing");
    // nothing lost: the log goes on with the server's stop and start (run-rules S4)
    expect(detail.lastSeq).toBe(lastSeqBefore + 2);
    expect((await events(s2, run.id)).slice(-2).map((e) => e.body)).toEqual([
      { type: "server", status: "stopping" },
      { type: "server", status: "started" },
    ]);
    const apache2 = t.peer(apacheLaunch.token);
    const client2 = t.peer(clientLaunch.token);
    await client2.until((st) => st.state === "Executing");
    const waiting = client2.call("param:get", { key: "client.1:webserver.ready", timeout: 0 });
    await apache2.call("param:set", { key: "apache.1:ready", value: "true" });
    expect(await waiting).toEqual({ ok: true, data: { value: "true" } });
    await completeThrough([apache2, client2], ["Executing", "SendingReports", "Ready"]);
    await runEnds(s2, run.id, "Done");
    const evs = await events(s2, run.id);
    expect(evs.map((e) => e.seq)).toEqual(evs.map((_, i) => i + 1));
  });
});
