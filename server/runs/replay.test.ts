import { afterEach, describe, expect, it } from "vitest";
import { cli, tempDir } from "../../cli/testing.js";
import type { ApiError } from "../../protocol/errors.js";
import type { ReportInfo, RunDetail, RunEvent, RuntimeParam } from "../../protocol/run.js";
import type { RunDiff, RunReplay } from "../../protocol/run-replay.js";
import { startTestServer, type TestServer } from "../testing/harness.js";
import { RunWatcher } from "../testing/watch.js";

const SYSTEM = "examples/tutorials/service-testing/system";
const FAILING = "examples/tutorials/service-testing/system-failing";
let server: TestServer | null = null;
const watchers: RunWatcher[] = [];

afterEach(async () => {
  for (const w of watchers.splice(0)) w.close();
  await server?.close({ stopInstances: true });
  server = null;
});

async function boot() {
  server = await startTestServer();
  return server;
}

/** Launches a run on the local cloud (real agents, the tutorial's shell recipes) and waits for its end. */
async function runToEnd(s: TestServer, body: Record<string, unknown>) {
  const res = await s.api<RunDetail>("POST", "/api/runs", { keepRunning: "never", ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const w = new RunWatcher(s.url, s.token, res.body.id);
  watchers.push(w);
  await w.ended();
  const events = (await s.api<{ events: RunEvent[] }>("GET", `/api/runs/${res.body.id}/events?limit=10000`)).body
    .events;
  return { id: res.body.id, events };
}

const replay = async (s: TestServer, id: string, at: number | string) => {
  const res = await s.api<RunReplay>("GET", `/api/runs/${id}/replay?at=${at}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};
const param = (r: RunReplay, key: string) => r.params.find((p) => p.key === key);

describe("replaying a real run from its event log", () => {
  it("shows the state, parameters, instances and reports of any event, the end equal to the live run", async () => {
    const s = await boot();
    const { id, events } = await runToEnd(s, { module: SYSTEM });
    const seqOf = (pred: (e: RunEvent) => boolean) => events.find(pred)!.seq;

    // every state change: the replay at its seq is in that state, the one before in the previous one
    const changes = events.filter((e) => e.body.type === "state");
    expect(changes.map((e) => (e.body as { to: string }).to)).toContain("Executing");
    for (const e of changes) {
      const r = await replay(s, id, e.seq);
      expect(r).toMatchObject({ at: e.seq, time: e.at, detail: { state: (e.body as { to: string }).to, allowed: [] } });
      expect(r.marks.map((m) => m.seq)).toEqual(changes.map((c) => c.seq));
    }

    // apache publishes its port in Executing: unset just before, set from then on, with the seq that set it
    const portSet = seqOf((e) => e.body.type === "param" && e.body.key === "apache.1:port" && e.body.value !== null);
    expect(param(await replay(s, id, portSet - 1), "apache.1:port")).toMatchObject({ value: null, updatedSeq: 0 });
    const after = param(await replay(s, id, portSet), "apache.1:port");
    expect(after?.value).toMatch(/^\d+$/);
    expect(after?.updatedSeq).toBe(portSet);

    // instances: up after their `up` event, having completed Provisioning after their completion of it
    const up = seqOf((e) => e.body.type === "instance" && e.body.instance === "client.1" && e.body.status === "up");
    const before = await replay(s, id, up - 1);
    expect(before.detail.instances.find((i) => i.name === "client.1")).toMatchObject({ cameUp: false });
    expect((await replay(s, id, up)).detail.instances.find((i) => i.name === "client.1")).toMatchObject({
      cameUp: true,
      liveness: "connected",
    });

    // reports: none before the first upload, all of them at the end
    const firstReport = seqOf((e) => e.body.type === "report");
    expect((await replay(s, id, firstReport - 1)).reports).toEqual([]);
    expect((await replay(s, id, firstReport)).reports).toHaveLength(1);
    const live = {
      detail: (await s.api<RunDetail>("GET", `/api/runs/${id}`)).body,
      params: (await s.api<{ params: RuntimeParam[] }>("GET", `/api/runs/${id}/params`)).body.params,
      reports: (await s.api<{ reports: ReportInfo[] }>("GET", `/api/runs/${id}/reports`)).body.reports,
    };
    const end = await replay(s, id, live.detail.lastSeq);
    expect(end.at).toBe(live.detail.lastSeq);
    expect(end.lastSeq).toBe(live.detail.lastSeq);
    expect(end.detail.state).toBe("Done");
    expect(end.params.map((p) => [p.key, p.value])).toEqual(live.params.map((p) => [p.key, p.value]));
    expect(end.reports.map((r) => [r.name, r.size, r.instance]).sort()).toEqual(
      live.reports.map((r) => [r.name, r.size, r.instance]).sort(),
    );
    expect(end.detail.instances.map((i) => [i.name, i.live, i.cameUp])).toEqual(
      live.detail.instances.map((i) => [i.name, i.live, i.cameUp]),
    );

    // a log chunk is a moment too (log events are not folded, yet the slider stops on them)
    const chunk = seqOf((e) => e.body.type === "log");
    expect(await replay(s, id, chunk)).toMatchObject({ at: chunk, detail: { lastSeq: chunk } });
    // past the end is the end; before the first event is the empty run
    expect((await replay(s, id, 10_000_000)).at).toBe(live.detail.lastSeq);
    expect((await replay(s, id, 0)).detail).toMatchObject({ state: "Initializing", instances: [] });
  });

  it("refuses a bad `at` and an unknown run, naming them", async () => {
    const s = await boot();
    const { id } = await runToEnd(s, { module: SYSTEM });
    const bad = await s.api<{ error: ApiError }>("GET", `/api/runs/${id}/replay?at=-1`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/at/);
    const none = await s.api<{ error: ApiError }>("GET", "/api/runs/nope/replay?at=1");
    expect(none.status).toBe(404);
  });
});

describe("comparing two runs of a module", () => {
  it("shows parameters, outcomes, times and reports side by side; the CLI prints the same", async () => {
    const s = await boot();
    const a = await runToEnd(s, { module: SYSTEM });
    const b = await runToEnd(s, { module: SYSTEM, multiplicity: { client: 2 } });
    const res = await s.api<RunDiff>("GET", `/api/runs/${a.id}/diff/${b.id}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const d = res.body;
    expect(d).toMatchObject({ module: SYSTEM, a: { id: a.id, state: "Done" }, b: { id: b.id, state: "Done" } });
    expect(d.instances.map((i) => i.name)).toEqual(["apache.1", "client.1", "client.2"]);
    expect(d.instances[1]).toMatchObject({
      a: { outcome: "completed", lastCompleted: "Ready" },
      b: { outcome: "completed", lastCompleted: "Ready" },
      same: true,
    });
    expect(d.instances[1].a?.perStateMs.Executing).toBeGreaterThanOrEqual(0);
    expect(d.instances[2]).toMatchObject({ a: null, b: { outcome: "completed" }, same: false });
    expect(d.states.map((x) => x.state)).toEqual([
      "Initializing",
      "Provisioning",
      "Executing",
      "SendingReports",
      "Ready",
      "Finalizing",
      "Done",
    ]);
    for (const x of d.states) {
      expect(x.aMs).toBeGreaterThanOrEqual(0);
      expect(x.bMs).toBeGreaterThanOrEqual(0);
    }
    // the client's statecustom carries what it downloaded: the same in both; client.2's keys are B's only
    expect(d.params.find((p) => p.key === "client.1:statecustom")).toMatchObject({ same: true, inA: true });
    expect(d.params.find((p) => p.key === "client.2:statecustom")).toMatchObject({ inA: false, inB: true, a: null });
    expect(d.reports.map((r) => [r.key, !!r.a, !!r.b])).toEqual([
      ["apache.1_report.tgz", true, true],
      ["client.1_report.tgz", true, true],
      ["client.2_report.tgz", false, true],
      ["orchestrator_report.tgz", true, true],
    ]);

    const conn = { url: s.url, configDir: await tempDir("cfg"), token: s.token };
    const text = await cli(["diff", a.id, b.id], conn);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`Compare ${SYSTEM}`);
    expect(text.stdout).toMatch(/client\.2 +\(not in this run\) +completed Ready in [\d.]+ s +≠/);
    expect(text.stdout).toMatch(/client\.2:statecustom +\(not declared\) +.*Welcome to SlipStream!/);
    expect(text.stdout).not.toMatch(/^client\.1:statecustom/m);
    expect(text.stdout).toMatch(/client\.2_report\.tgz +- +client\.2_report_\d{8}T\d{6}Z\.tgz/);
    const all = await cli(["diff", a.id, b.id, "--all"], conn);
    expect(all.stdout).toMatch(/^client\.1:statecustom /m);
    const json = await cli(["diff", a.id, b.id, "--json"], conn);
    expect(JSON.parse(json.stdout)).toEqual(d);
  });

  it("refuses runs of different modules with a clear message, on the API and in the CLI", async () => {
    const s = await boot();
    const a = await runToEnd(s, { module: SYSTEM });
    const c = await runToEnd(s, { module: FAILING });
    const res = await s.api<{ error: ApiError }>("GET", `/api/runs/${a.id}/diff/${c.id}`);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain("compare runs of the same module");
    expect(res.body.error.fields?.other).toContain(FAILING);
    const out = await cli(["diff", a.id, c.id], { url: s.url, configDir: await tempDir("cfg"), token: s.token });
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("compare runs of the same module");
    const missing = await s.api<{ error: ApiError }>("GET", `/api/runs/${a.id}/diff/nope`);
    expect(missing.status).toBe(404);
  });
});
