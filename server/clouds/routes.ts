import type { IncomingMessage } from "node:http";
import type { AuthedUser } from "../auth/service.js";
import type { AppContext } from "../context.js";
import { readJson, sendJson } from "../http/respond.js";
import type { Router } from "../http/router.js";
import { CloudService } from "./service.js";

/** GET/POST /api/clouds, PUT/DELETE /api/clouds/:name. Listing is for every user; changes are for admins. */
export function registerCloudRoutes(
  router: Router,
  app: AppContext,
  user: (req: IncomingMessage) => AuthedUser,
  clouds: CloudService = new CloudService(app),
): CloudService {
  router
    .on("GET", "/api/clouds", ({ req, res }) => {
      user(req);
      sendJson(res, 200, { clouds: clouds.list() });
    })
    .on("POST", "/api/clouds", async ({ req, res }) => {
      const u = user(req);
      sendJson(res, 201, clouds.create(u, await readJson(req)));
    })
    .on("PUT", "/api/clouds/:name", async ({ req, res, params }) => {
      const u = user(req);
      sendJson(res, 200, clouds.update(u, params.name, await readJson(req)));
    })
    .on("DELETE", "/api/clouds/:name", ({ req, res, params }) => {
      const u = user(req);
      clouds.delete(u, params.name);
      sendJson(res, 200, { ok: true });
    });
  return clouds;
}
