import type { Logger } from "pino";
import type { AuthService } from "./auth/service.js";
import type { Bus } from "./bus.js";
import type { CloudAccess } from "./clouds/access.js";
import type { Connector } from "./connectors/types.js";
import type { Db } from "./db/open.js";
import type { ModuleService } from "./modules/service.js";
import type { Ops } from "./ops/ops.js";
import type { ReportFiles } from "./reports/store.js";
import type { Deadlines } from "./runs/deadlines.js";
import type { RunEffects } from "./runs/effects.js";
import type { Liveness } from "./runs/liveness.js";
import type { RunRuntime } from "./runs/runtime.js";
import type { RunService } from "./runs/service.js";
import type { Secrets } from "./secrets.js";
import type { Settings } from "./settings.js";

/** Everything the HTTP and socket layers need, composed once in app.ts. */
export interface AppContext {
  db: Db;
  log: Logger;
  bus: Bus;
  auth: AuthService;
  modules: ModuleService;
  runs: RunService;
  effects: RunEffects;
  reports: ReportFiles;
  deadlines: Deadlines;
  /** unresponsive agents' graces (run-rules R19) */
  liveness: Liveness;
  connectors: Map<string, Connector>;
  /** clouds deleted while machines may still run on them: used to stop those machines, never to start one */
  retiredConnectors: Map<string, Connector>;
  /** credentials at rest, and redaction of every secret opened */
  secrets: Secrets;
  /** limits an admin changes at run time */
  settings: Settings;
  dataDir: string;
  /** why this user may not start machines on this cloud (said to them as is), or null when they may */
  cloudRefusal: (user: { role: "admin" | "member"; username: string }, cloud: string) => string | null;
  /** who may use which cloud, and whether run owners' keys are let into its machines */
  access: CloudAccess;
  /** resolves an agent token to its run and instance; null when unknown or the run has ended */
  agentByToken: (token: string | undefined) => { rt: RunRuntime; instance: string } | null;
  /** readiness, draining and metrics (server/ops) */
  ops: Ops;
}
