import { API } from "../../../protocol/catalog/index.js";
import { fieldError, SlipError } from "../../../protocol/errors.js";
import type { AppContext } from "../../context.js";
import type { Router } from "../router.js";

/** The team (every member sees it; admins change it) and API tokens (one's own; an admin sees and revokes anyone's). */
export function registerUserRoutes(router: Router, app: AppContext): void {
  const { auth } = app;
  router
    .route(API.listUsers, () => ({ users: auth.listUsers() }))
    .route(API.createUser, async ({ body }) => {
      await auth.createUser(body.username, body.displayName, body.role, body.password);
      return auth.userInfo(body.username);
    })
    .route(API.updateUser, ({ signed, params, body }) =>
      auth.updateUser(signed.user, params.username, body, signed.credential),
    )
    .route(API.userTokens, ({ user, params }) => {
      if (params.username !== user.username && user.role !== "admin") {
        throw new SlipError("FORBIDDEN", "only an admin may list another user's tokens");
      }
      return { tokens: auth.listTokens(auth.userId(params.username)) };
    })
    .route(API.listTokens, ({ user }) => ({ tokens: auth.listTokens(user.id) }))
    .route(API.createToken, ({ user, body }) => {
      // two live tokens of one name cannot be told apart in the list, so the wrong one gets revoked
      if (auth.listTokens(user.id).some((t) => t.name === body.name && !t.revoked && !t.expired)) {
        throw fieldError("name", `you already have a token named '${body.name}'`, "CONFLICT");
      }
      return auth.createToken(user.id, body.name, body.expiresInDays === null ? null : body.expiresInDays * 86_400_000);
    })
    .route(API.revokeToken, ({ user, params }) => {
      auth.revokeTokenById(user, Number(params.id));
      return { ok: true as const };
    });
}
