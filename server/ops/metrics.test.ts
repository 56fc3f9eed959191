import { afterEach, describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { addMember } from "../http/team-fixtures.js";
import { startTestServer, type TestServer } from "../testing/harness.js";
import { RunWatcher } from "../testing/watch.js";
import { parseExposition, type Sample, sampleValue } from "./metrics-text.js";

const METRICS_TOKEN = "metrics-token-for-the-test";
let server: TestServer | null = null;
const watchers: RunWatcher[] = [];

afterEach(async () => {
  for (const w of watchers.splice(0)) w.close();
  await server?.close({ stopInstances: true });
  server = null;
});

async function boot(): Promise<TestServer> {
  server = await startTestServer();
  server.app.ops.metricsToken = METRICS_TOKEN;
  return server;
}

async function scrape(s: TestServer, token: string | null = METRICS_TOKEN) {
  const res = await fetch(`${s.url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text() };
}

async function samples(s: TestServer): Promise<Sample[]> {
  const r = await scrape(s);
  expect(r.status, r.text).toBe(200);
  return parseExposition(r.text);
}

/** One node whose execute blocks in ss-get until the test sets `go`, then sets `ready`. */
const GATED = {
  files: [
    {
      path: "m/gated",
      yaml:
        "kind: image\nparameters:\n  - { name: go, category: output }\n  - { name: ready, category: output }\n" +
        "targets:\n  execute: |\n    #!/bin/sh -xe\n    ss-get --timeout 0 go\n    ss-set ready true\n" +
        "  report: |\n    #!/bin/sh\n    echo ok > $SLIPSTREAM_REPORT_DIR/ok.txt\n",
    },
    { path: "m/system", yaml: "kind: deployment\nnodes:\n  server: { image: gated }\n" },
  ],
};

describe("/metrics", () => {
  it("answers 401 without a bearer or with a wrong one, 403 to a member's token, 200 to the metrics token and an admin's", async () => {
    const s = await boot();
    const none = await scrape(s, null);
    expect(none.status).toBe(401);
    expect(JSON.parse(none.text).error).toMatchObject({ code: "UNAUTHORIZED" });
    expect(JSON.parse(none.text).error.message).toContain("authorization");
    expect((await scrape(s, "not-the-metrics-token")).status).toBe(401);

    const member = await addMember(s, "metrics-member");
    const refused = await scrape(s, member.token);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.text).error.code).toBe("FORBIDDEN");

    const byToken = await scrape(s);
    expect(byToken.status).toBe(200);
    expect(byToken.type).toContain("text/plain");
    expect((await scrape(s, s.token)).status).toBe(200);
  });

  it("moves during a real run: gauges while an ss-get blocks, then counters and histograms once it is answered", async () => {
    const s = await boot();
    const before = await samples(s);
    // the process-wide default metrics are there: event-loop lag among them
    expect(before.some((x) => x.name === "nodejs_eventloop_lag_seconds")).toBe(true);
    expect(sampleValue(before, "slipstream_runs", { state: "Executing" })).toBe(0);

    expect((await s.api("POST", "/api/modules/import", GATED)).status).toBe(200);
    const created = await s.api<RunDetail>("POST", "/api/runs", { module: "m/system", keepRunning: "never" });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const runId = created.body.id;
    const w = new RunWatcher(s.url, s.token, runId);
    watchers.push(w);
    await w.until((e) => e.body.type === "log" && e.body.data.includes("ss-get --timeout 0 go"));

    const blocked = await samples(s);
    expect(sampleValue(blocked, "slipstream_runs", { state: "Executing" })).toBe(1);
    expect(sampleValue(blocked, "slipstream_instances", { status: "running" })).toBe(1);
    // the log line is written before ss-get reaches the server: its wait may still be on the way
    const pending = sampleValue(blocked, "slipstream_pending_waits");
    expect(pending).toBeLessThanOrEqual(1);
    expect(sampleValue(blocked, "slipstream_sockets", { namespace: "/agent" })).toBe(1);
    expect(sampleValue(blocked, "slipstream_sockets", { namespace: "/ui" })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(blocked, "slipstream_run_events_total", { type: "state" })).toBe(3);

    const set = await s.api("PUT", `/api/runs/${runId}/params/server.1:go`, { value: "now" });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    const end = await w.ended();
    expect(end.body).toMatchObject({ to: "Done" });

    const after = await samples(s);
    expect(sampleValue(after, "slipstream_runs", { state: "Done" })).toBe(1);
    expect(sampleValue(after, "slipstream_runs", { state: "Executing" })).toBe(0);
    expect(sampleValue(after, "slipstream_pending_waits")).toBe(0);
    expect(sampleValue(after, "slipstream_instances")).toBe(0);
    // Initializing … Done: seven states
    expect(sampleValue(after, "slipstream_run_events_total", { type: "state" })).toBe(7);
    const grew = (name: string, labels: Record<string, string> = {}) =>
      sampleValue(after, name, labels) - sampleValue(before, name, labels);
    // the ss-get was answered by the set: one wake at least (the histograms are process-wide)
    expect(grew("slipstream_param_wake_latency_seconds_count")).toBeGreaterThanOrEqual(1);
    expect(
      grew("slipstream_agent_command_duration_seconds_count", { command: "param:get", outcome: "ok" }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      grew("slipstream_agent_command_duration_seconds_count", { command: "param:set", outcome: "ok" }),
    ).toBeGreaterThanOrEqual(1);
    expect(grew("slipstream_agent_command_duration_seconds_count", { command: "state:complete" })).toBeGreaterThan(0);
    expect(grew("slipstream_sqlite_commit_seconds_count", { kind: "run" })).toBeGreaterThan(5);
    expect(grew("slipstream_sqlite_commit_seconds_count", { kind: "group" })).toBeGreaterThanOrEqual(1);
    // the blocked ss-get lasted at least as long as the test took to set the value
    expect(grew("slipstream_agent_command_duration_seconds_sum", { command: "param:get" })).toBeGreaterThan(0);
  });
});

describe("readiness and draining", () => {
  it("/api/ready is 200 once started; draining turns it 503 and refuses new runs, /api/health stays 200", async () => {
    const s = await boot();
    expect((await s.api("GET", "/api/ready", undefined, null)).status).toBe(200);
    s.app.ops.lifecycle.startDraining();
    const ready = await s.api<{ error: { code: string; message: string } }>("GET", "/api/ready", undefined, null);
    expect(ready.status).toBe(503);
    expect(ready.body.error.code).toBe("UNAVAILABLE");
    expect(ready.body.error.message).toContain("shutting down");
    expect((await s.api("GET", "/api/health", undefined, null)).status).toBe(200);
    const run = await s.api<{ error: { code: string; message: string } }>("POST", "/api/runs", {
      module: "examples/tutorials/service-testing/system",
      keepRunning: "never",
    });
    expect(run.status).toBe(503);
    expect(run.body.error).toMatchObject({ code: "UNAVAILABLE" });
    expect(run.body.error.message).toContain("starts no new run");
    expect(
      (s.app.db.$client.prepare("select count(*) as n from runs").get() as { n: number }).n,
      "nothing stored",
    ).toBe(0);
  });
});
