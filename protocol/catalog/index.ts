import type { EndpointDef } from "../endpoint";
import { abortReceiptRoutes } from "./abort-receipts";
import { authRoutes } from "./auth";
import { cloudRoutes } from "./clouds";
import { debugInfoRoutes } from "./debug-info";
import { docsRoutes } from "./docs";
import { keptRoutes } from "./kept";
import { moduleManageRoutes } from "./module-manage";
import { moduleRoutes } from "./modules";
import { operationsRoutes } from "./operations";
import { profileRoutes } from "./profile";
import { replayRoutes } from "./replay";
import { resultRoutes } from "./results";
import { runCheckRoutes } from "./run-checks";
import { runRoutes } from "./runs";
import { settingsRoutes } from "./settings";
import { userRoutes } from "./users";
import { waitRoutes } from "./waits";
import { webhookRoutes } from "./webhooks";

/**
 * Every HTTP route of the server, by name. The server registers one handler per entry (a route without an entry
 * cannot be registered), the app and the CLI call entries, and /api/openapi.json is generated from them.
 */
export const API = {
  ...authRoutes,
  ...userRoutes,
  ...profileRoutes,
  ...moduleRoutes,
  ...moduleManageRoutes,
  ...runRoutes,
  ...abortReceiptRoutes,
  ...debugInfoRoutes,
  ...waitRoutes,
  ...runCheckRoutes,
  ...replayRoutes,
  ...keptRoutes,
  ...cloudRoutes,
  ...settingsRoutes,
  ...docsRoutes,
  ...operationsRoutes,
  ...webhookRoutes,
  ...resultRoutes,
} satisfies Record<string, EndpointDef>;
export type ApiName = keyof typeof API;
