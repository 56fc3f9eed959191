import { z } from "zod";
import { ChangePasswordBody, LoginBody, LoginResponse } from "../api";
import { endpoint } from "../endpoint";
import { Ok, Role, SignedInUser } from "./common";
import { Profile } from "./profile";

const Session = z.object({ user: SignedInUser, csrfToken: z.string() });

export const authRoutes = {
  health: endpoint({
    method: "GET",
    path: "/api/health",
    tag: "auth",
    auth: "none",
    summary: "Whether the server is up (for load balancers and the CLI)",
    response: Ok,
  }),
  login: endpoint({
    method: "POST",
    path: "/api/auth/login",
    tag: "auth",
    auth: "none",
    summary: "Sign in with a password for an API token (what `slipstream login` does); the token expires in 90 days",
    body: LoginBody,
    response: LoginResponse,
    errors: ["UNAUTHORIZED", "TOO_MANY_REQUESTS"],
  }),
  logout: endpoint({
    method: "POST",
    path: "/api/auth/logout",
    tag: "auth",
    auth: "user",
    summary: "Revoke the credential of this request (the API token, or the session and its cookie)",
    response: Ok,
  }),
  createSession: endpoint({
    method: "POST",
    path: "/api/auth/session",
    tag: "auth",
    auth: "none",
    summary: "Sign in a browser: sets the session cookie and answers the CSRF token its state changes carry",
    body: LoginBody,
    response: Session,
    errors: ["UNAUTHORIZED", "TOO_MANY_REQUESTS"],
  }),
  session: endpoint({
    method: "GET",
    path: "/api/auth/session",
    tag: "auth",
    auth: "session",
    summary: "The browser's session: who is signed in, and its CSRF token",
    response: Session,
  }),
  endSession: endpoint({
    method: "DELETE",
    path: "/api/auth/session",
    tag: "auth",
    auth: "none",
    summary: "Sign a browser out: the session is revoked and its cookie cleared (also when already signed out)",
    response: Ok,
  }),
  me: endpoint({
    method: "GET",
    path: "/api/me",
    tag: "auth",
    auth: "user",
    summary: "The caller: name, role and profile",
    response: z.object({ username: z.string(), displayName: z.string(), role: Role, profile: Profile }),
  }),
  changePassword: endpoint({
    method: "PUT",
    path: "/api/me/password",
    tag: "auth",
    auth: "user",
    summary:
      "Change one's own password, giving the current one; other sessions are signed out, API tokens too on request",
    body: ChangePasswordBody,
    response: z.object({ ok: z.literal(true), revokedSessions: z.number().int(), revokedTokens: z.number().int() }),
    errors: ["FORBIDDEN", "TOO_MANY_REQUESTS"],
  }),
};
