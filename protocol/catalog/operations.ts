import { endpoint } from "../endpoint";
import { Ok } from "./common";

/** What operators and their tools read: readiness for load balancers, metrics for Prometheus. */
export const operationsRoutes = {
  ready: endpoint({
    method: "GET",
    path: "/api/ready",
    tag: "operations",
    auth: "none",
    summary:
      "Whether the server takes work: 200 once the database is migrated and interrupted runs are adopted, " +
      "503 UNAVAILABLE while starting and while draining after SIGTERM (/api/health stays 200 while the process is up)",
    response: Ok,
    errors: ["UNAVAILABLE"],
  }),
  metrics: endpoint({
    method: "GET",
    path: "/metrics",
    tag: "operations",
    auth: "none",
    summary:
      "Prometheus metrics (text exposition format): runs by state, instances by status, pending waits, wake latency, " +
      "agent commands, sockets per namespace, SQLite commit time, event-loop lag. Bearer: SLIPSTREAM_METRICS_TOKEN, " +
      "or an admin's API token",
    response: { raw: "text/plain; version=0.0.4" },
    errors: ["UNAUTHORIZED", "FORBIDDEN"],
  }),
};
