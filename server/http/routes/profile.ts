import { API } from "../../../protocol/catalog/index.js";
import { fieldError } from "../../../protocol/errors.js";
import type { AppContext } from "../../context.js";
import type { Router } from "../router.js";

/** The profile (the seed's "General"): copied into each new run. */
export function registerProfileRoutes(router: Router, app: AppContext): void {
  const clouds = () => [...app.connectors.keys()];
  const db = app.db.$client;
  const displayName = (id: number) =>
    (db.prepare("select display_name from users where id = ?").get(id) as { display_name: string }).display_name;
  router
    .route(API.profile, ({ user }) => ({ profile: user.profile, clouds: clouds(), displayName: displayName(user.id) }))
    .route(API.putProfile, ({ user, body }) => {
      if (!app.connectors.has(body.defaultCloud)) {
        throw fieldError("defaultCloud", `unknown cloud '${body.defaultCloud}' (known: ${clouds().join(", ")})`);
      }
      const { displayName: name, ...profile } = body;
      if (name !== undefined) db.prepare("update users set display_name = ? where id = ?").run(name, user.id);
      return { profile: app.auth.updateProfile(user.id, profile), clouds: clouds(), displayName: displayName(user.id) };
    });
}
