import type { IncomingMessage } from "node:http";
import { SlipError } from "../../protocol/index.js";
import type { AuthedUser } from "../auth/service.js";
import type { AppContext } from "../context.js";
import { readJson, sendJson } from "../http/respond.js";
import type { Router } from "../http/router.js";
import { CloudService } from "./service.js";

/**
 * GET/POST /api/clouds, PUT/DELETE /api/clouds/:name, GET/PUT /api/clouds/:name/access. Reading is for every user;
 * changes are for admins.
 */
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
      app.access.forget(params.name);
      sendJson(res, 200, { ok: true });
    })
    // who may use a cloud (local included): everyone may read it, admins change it
    .on("GET", "/api/clouds/:name/access", ({ req, res, params }) => {
      user(req);
      if (!app.connectors.has(params.name)) throw new SlipError("NOT_FOUND", `no cloud '${params.name}'`);
      sendJson(res, 200, app.access.get(params.name));
    })
    .on("PUT", "/api/clouds/:name/access", async ({ req, res, params }) => {
      const u = user(req);
      sendJson(res, 200, app.access.set(u, params.name, await readJson(req)));
    });
  return clouds;
}
