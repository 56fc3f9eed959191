import { Counter, Gauge, Registry } from "prom-client";
import { RUN_STATES } from "../../protocol/run.js";
import type { AppContext } from "../context.js";
import { TERMINAL_SQL } from "../db/run-states.js";
import { hotRegistry } from "./hot-metrics.js";

const INSTANCE_STATUSES = ["pending", "starting", "running", "stopping", "stopped", "failed"] as const;

/** How many sockets each namespace holds now. */
export type SocketCounts = () => Record<string, number>;

export interface ServerMetrics {
  /** the exposition text of this server's metrics and the process-wide ones */
  render(): Promise<{ contentType: string; body: string }>;
}

/**
 * The metrics of one server. Gauges are read when scraped (one grouped query each, on indexed columns), so
 * nothing is counted on the hot path; the event counter adds once per committed batch.
 */
export function createServerMetrics(app: AppContext, sockets: SocketCounts): ServerMetrics {
  const registry = new Registry();
  const sqlite = app.db.$client;
  const runsByState = sqlite.prepare("select state, count(*) as n from runs group by state");
  const instancesByStatus = sqlite.prepare(
    `select i.status as status, count(*) as n from instances i join runs r on r.id = i.run_id
     where r.state not in ${TERMINAL_SQL} group by i.status`,
  );

  new Gauge({
    name: "slipstream_runs",
    help: "Runs by state (every run stored)",
    labelNames: ["state"] as const,
    registers: [registry],
    collect() {
      const counts = new Map((runsByState.all() as { state: string; n: number }[]).map((r) => [r.state, r.n]));
      for (const state of RUN_STATES) this.set({ state }, counts.get(state) ?? 0);
    },
  });
  new Gauge({
    name: "slipstream_instances",
    help: "Instances of active runs by status",
    labelNames: ["status"] as const,
    registers: [registry],
    collect() {
      const counts = new Map((instancesByStatus.all() as { status: string; n: number }[]).map((r) => [r.status, r.n]));
      for (const status of INSTANCE_STATUSES) this.set({ status }, counts.get(status) ?? 0);
    },
  });
  new Gauge({
    name: "slipstream_pending_waits",
    help: "ss-get requests blocked on a parameter not yet set, over every active run",
    registers: [registry],
    collect() {
      let n = 0;
      for (const id of app.runs.activeRunIds()) n += app.runs.tryGet(id)?.waiters.size ?? 0;
      this.set(n);
    },
  });
  new Gauge({
    name: "slipstream_sockets",
    help: "Connected sockets by namespace (/agent: node agents, /ui: dashboards and CLI watchers)",
    labelNames: ["namespace"] as const,
    registers: [registry],
    collect() {
      for (const [namespace, n] of Object.entries(sockets())) this.set({ namespace }, n);
    },
  });
  const events = new Counter({
    name: "slipstream_run_events_total",
    help: "Run events committed, by type (state, param, log, abort…)",
    labelNames: ["type"] as const,
    registers: [registry],
  });
  app.bus.on("events", (_runId, list) => {
    for (const e of list) events.inc({ type: e.body.type });
  });

  return {
    async render() {
      const merged = Registry.merge([hotRegistry, registry]);
      return { contentType: merged.contentType, body: await merged.metrics() };
    },
  };
}
