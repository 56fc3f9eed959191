/** Run logs for the replay and diff tests (imported by tests only). */
import type { RunEvent } from "../protocol/run.js";

/** A run's log as the server writes it: seqs from 1, a second apart. */
export function log(bodies: { actor?: string; body: RunEvent["body"] }[], runId = "r1", t0 = Date.UTC(2026, 0, 1)) {
  return bodies.map(
    (b, i): RunEvent => ({
      runId,
      seq: i + 1,
      at: new Date(t0 + i * 1000).toISOString(),
      actor: b.actor ?? "server",
      body: b.body,
    }),
  );
}

export const TUTORIAL = log([
  { body: { type: "created", module: "m/system", instances: ["apache.1", "client.1"] } },
  { body: { type: "state", from: null, to: "Initializing" } },
  { body: { type: "param", key: "apache.1:port", value: "80" } },
  { body: { type: "state", from: "Initializing", to: "Provisioning" } },
  { body: { type: "instance", instance: "apache.1", status: "starting" } },
  { body: { type: "instance", instance: "client.1", status: "starting" } },
  { body: { type: "instance", instance: "apache.1", status: "up" } },
  { body: { type: "instance", instance: "client.1", status: "up" } },
  { body: { type: "instance", instance: "apache.1", status: "completed", state: "Provisioning" } },
  { body: { type: "instance", instance: "client.1", status: "completed", state: "Provisioning" } },
  { body: { type: "state", from: "Provisioning", to: "Executing" } },
  {
    actor: "node:apache.1",
    body: { type: "log", instance: "apache.1", target: "execute", stream: "stdout", data: "hi\n" },
  },
  { actor: "node:apache.1", body: { type: "param", key: "apache.1:ready", value: "true" } },
  { actor: "node:apache.1", body: { type: "param", key: "apache.1:port", value: "8080" } },
  { body: { type: "instance", instance: "apache.1", status: "completed", state: "Executing" } },
  { body: { type: "abort", message: "client.1: cannot reach", instance: "client.1", first: true } },
  { body: { type: "report", name: "client.1_report_20260101T000016Z.tgz", size: 10, instance: "client.1" } },
  { body: { type: "report", name: "client.1_report_20260101T000016Z.tgz", size: 12, instance: "client.1" } },
  { body: { type: "state", from: "Executing", to: "Aborted" } },
]);
