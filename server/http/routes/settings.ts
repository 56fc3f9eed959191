import { API } from "../../../protocol/catalog/index.js";
import { Limits } from "../../../protocol/limits.js";
import type { AppContext } from "../../context.js";
import type { Router } from "../router.js";

/** The limits: every user may read those their runs meet; only admins change them. */
export function registerSettingsRoutes(router: Router, app: AppContext): void {
  const descriptions = Object.fromEntries(
    Object.entries(Limits.shape).map(([name, schema]) => [name, schema.description ?? ""]),
  );
  const show = () => ({ limits: app.settings.limits, changed: app.settings.limitsChange(), descriptions });
  router.route(API.limits, show).route(API.setLimits, ({ user, body }) => {
    app.settings.setLimits(body, user.username);
    app.log.info({ by: user.username, patch: body }, "limits changed");
    return show();
  });
}
