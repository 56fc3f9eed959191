import type { Lifecycle } from "./lifecycle.js";
import type { ServerMetrics } from "./server-metrics.js";

/** What the operations routes read: where the server is in its life, its metrics, and who may scrape them. */
export interface Ops {
  lifecycle: Lifecycle;
  metrics: ServerMetrics;
  /** SLIPSTREAM_METRICS_TOKEN: a bearer that may read /metrics only (admins' API tokens may too) */
  metricsToken?: string;
}
