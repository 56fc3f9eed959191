import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../root.js";
import { startTestServer, type TestServer } from "../testing/harness.js";

/** PromQL's own words: functions, aggregations and keywords, which are not metric names. */
const PROMQL = new Set([
  "sum",
  "avg",
  "min",
  "max",
  "count",
  "by",
  "without",
  "rate",
  "irate",
  "increase",
  "delta",
  "histogram_quantile",
  "topk",
  "bottomk",
  "abs",
  "clamp_min",
  "clamp_max",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "and",
  "or",
  "unless",
  "offset",
]);

/** The metric names a PromQL expression reads: label matchers, grouping labels and range variables left out. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, "");
  return [...bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)].map((m) => m[0]).filter((w) => !PROMQL.has(w));
}

interface Panel {
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

describe("docs/grafana-dashboard.json", () => {
  let s: TestServer | null = null;
  afterAll(async () => {
    await s?.close();
  });

  it("every panel's expressions name metrics that /metrics exports", async () => {
    const dashboard = JSON.parse(fs.readFileSync(path.join(ROOT, "docs/grafana-dashboard.json"), "utf8")) as {
      panels: Panel[];
      uid: string;
    };
    expect(dashboard.uid).toBe("slipstream-server");
    s = await startTestServer();
    const res = await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${s.token}` } });
    expect(res.status).toBe(200);
    // a histogram with no observation yet has no samples, only its TYPE line: its series are named from it
    const exported = new Set<string>();
    for (const m of (await res.text()).matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      const [, name, type] = m;
      if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) exported.add(name + suffix);
      else if (type === "summary") for (const suffix of ["", "_sum", "_count"]) exported.add(name + suffix);
      else exported.add(name);
    }
    const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
    const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
    expect(exprs.length).toBeGreaterThan(10);
    const named = new Set<string>();
    for (const { panel, expr } of exprs) {
      const names = metricNames(expr);
      expect(names.length, `${panel}: ${expr} names no metric`).toBeGreaterThan(0);
      for (const n of names) {
        expect(exported.has(n), `${panel}: ${n} is not exported by /metrics`).toBe(true);
        named.add(n);
      }
    }
    // what the issue asks to watch is on the dashboard
    for (const n of [
      "slipstream_runs",
      "slipstream_instances",
      "slipstream_pending_waits",
      "slipstream_param_wake_latency_seconds_bucket",
      "slipstream_agent_command_duration_seconds_count",
      "slipstream_sockets",
      "nodejs_eventloop_lag_seconds",
      "slipstream_sqlite_commit_seconds_bucket",
    ]) {
      expect(named.has(n), n).toBe(true);
    }
  });

  it("the check reads metric names, not labels or functions", () => {
    expect(
      metricNames('histogram_quantile(0.95, sum by (le, kind) (rate(slipstream_x_bucket{kind!="run"}[5m])))'),
    ).toEqual(["slipstream_x_bucket"]);
    expect(metricNames("nodejs_a + on(job) process_b")).toEqual(["nodejs_a", "process_b"]);
  });
});
