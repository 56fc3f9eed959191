import { API } from "../../../protocol/catalog/index.js";
import { SlipError } from "../../../protocol/errors.js";
import type { AppContext } from "../../context.js";
import { keptExpiryOf } from "../../runs/kept-expiry.js";
import type { Router } from "../router.js";

/** Kept-run expiry (server/runs/kept-expiry.ts): the owner, or an admin, gives a kept run more time. */
export function registerKeptRoutes(router: Router, app: AppContext): void {
  router.route(API.extendRun, ({ user, params, body }) => {
    const rt = app.runs.get(params.id);
    if (user.role !== "admin" && rt.ownerId !== user.id) {
      throw new SlipError("FORBIDDEN", `only ${rt.owner} (the run's owner) or an admin may extend run ${rt.id}`);
    }
    return keptExpiryOf(app).extend(rt, body.hours, `user:${user.username}`);
  });
}
