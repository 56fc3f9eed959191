import { API } from "../../../protocol/catalog/index.js";
import { fieldError } from "../../../protocol/errors.js";
import type { AppContext } from "../../context.js";
import type { Router } from "../router.js";

/** The profile (the seed's "General"): copied into each new run. */
export function registerProfileRoutes(router: Router, app: AppContext): void {
  const clouds = () => [...app.connectors.keys()];
  router
    .route(API.profile, ({ user }) => ({ profile: user.profile, clouds: clouds() }))
    .route(API.putProfile, ({ user, body }) => {
      if (!app.connectors.has(body.defaultCloud)) {
        throw fieldError("defaultCloud", `unknown cloud '${body.defaultCloud}' (known: ${clouds().join(", ")})`);
      }
      return { profile: app.auth.updateProfile(user.id, body), clouds: clouds() };
    });
}
