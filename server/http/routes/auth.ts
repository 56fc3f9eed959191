import { API } from "../../../protocol/catalog/index.js";
import { SlipError } from "../../../protocol/errors.js";
import { clearSessionCookie, sessionCookie, setSessionCookie } from "../../auth/cookies.js";
import type { AppContext } from "../../context.js";
import type { IpOf } from "../client-ip.js";
import { bearer } from "../respond.js";
import type { Router } from "../router.js";

/** Signing in and out (tokens for the CLI, sessions for browsers), and the caller's own account. */
export function registerAuthRoutes(router: Router, app: AppContext, ipOf: IpOf): void {
  const { auth } = app;
  const userView = (u: { username: string; role: "admin" | "member" }) => ({ username: u.username, role: u.role });
  router
    .route(API.health, () => ({ ok: true as const }))
    .route(API.login, async ({ req, body }) => {
      const { token, expiresAt, user } = await auth.login(body.username, body.password, "login", ipOf(req));
      return { token, expiresAt, user: userView(user) };
    })
    .route(API.logout, ({ req, res }) => {
      const token = bearer(req);
      if (token) auth.revoke(token);
      else {
        const cookie = sessionCookie(req);
        if (cookie) auth.revokeSession(cookie);
        res.setHeader("set-cookie", clearSessionCookie(req));
      }
      return { ok: true as const };
    })
    .route(API.createSession, async ({ req, res, body }) => {
      const { token, csrfToken, user } = await auth.createSession(body.username, body.password, ipOf(req));
      res.setHeader("set-cookie", setSessionCookie(req, token, 7 * 86_400));
      return { user: userView(user), csrfToken };
    })
    .route(API.session, ({ req }) => {
      const session = auth.session(sessionCookie(req));
      if (!session) throw new SlipError("UNAUTHORIZED", "not signed in");
      return { user: userView(session.user), csrfToken: session.csrfToken };
    })
    .route(API.endSession, ({ req, res }) => {
      const token = sessionCookie(req);
      if (token) auth.revokeSession(token);
      res.setHeader("set-cookie", clearSessionCookie(req));
      return { ok: true as const };
    })
    .route(API.me, ({ user }) => {
      const info = auth.userInfo(user.username);
      return { username: user.username, displayName: info.displayName, role: user.role, profile: user.profile };
    })
    .route(API.changePassword, async ({ req, signed, body }) => {
      const revoked = await auth.changePassword(signed.user.id, body.currentPassword, body.newPassword, {
        keep: signed.credential,
        revokeTokens: body.revokeTokens,
        ip: ipOf(req),
      });
      return { ok: true as const, ...revoked };
    });
}
