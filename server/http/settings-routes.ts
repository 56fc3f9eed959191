import type { IncomingMessage } from "node:http";
import { Limits, LimitsPatch, parseOrThrow, SlipError } from "../../protocol/index.js";
import type { AuthedUser } from "../auth/service.js";
import type { AppContext } from "../context.js";
import { readJson, sendJson } from "./respond.js";
import type { Router } from "./router.js";

/** GET/PUT /api/settings/limits: every user may read the limits their runs meet; only admins change them. */
export function registerSettingsRoutes(router: Router, app: AppContext, user: (req: IncomingMessage) => AuthedUser) {
  // each limit's meaning, from its schema, so every client says the same thing
  const descriptions = Object.fromEntries(
    Object.entries(Limits.shape).map(([name, schema]) => [name, schema.description ?? ""]),
  );
  const show = () => ({ limits: app.settings.limits, changed: app.settings.limitsChange(), descriptions });
  router
    .on("GET", "/api/settings/limits", ({ req, res }) => {
      user(req);
      sendJson(res, 200, show());
    })
    .on("PUT", "/api/settings/limits", async ({ req, res }) => {
      const u = user(req);
      if (u.role !== "admin") throw new SlipError("FORBIDDEN", "only an admin may change the limits");
      const patch = parseOrThrow(LimitsPatch, await readJson(req));
      app.settings.setLimits(patch, u.username);
      app.log.info({ by: u.username, patch }, "limits changed");
      sendJson(res, 200, show());
    });
}
