import type { EndpointDef } from "../endpoint";
import { authRoutes } from "./auth";
import { cloudRoutes } from "./clouds";
import { docsRoutes } from "./docs";
import { moduleRoutes } from "./modules";
import { profileRoutes } from "./profile";
import { runRoutes } from "./runs";
import { settingsRoutes } from "./settings";
import { userRoutes } from "./users";
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
  ...runRoutes,
  ...cloudRoutes,
  ...settingsRoutes,
  ...docsRoutes,
  ...webhookRoutes,
} satisfies Record<string, EndpointDef>;
export type ApiName = keyof typeof API;
