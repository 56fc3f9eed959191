import { z } from "zod";
import { CreateTokenBody, CreateUserBody, UpdateUserBody, Username } from "../api";
import { endpoint } from "../endpoint";
import { Ok, Role } from "./common";

/** A user as the API shows them: never the password hash. */
export const UserInfo = z.object({
  username: z.string(),
  displayName: z.string(),
  role: Role,
  createdAt: z.string(),
  /** disabled by an admin: cannot sign in, and none of their tokens or sessions work */
  disabled: z.boolean(),
});
export type UserInfo = z.infer<typeof UserInfo>;

/** An API token as its owner sees it: never the secret nor its hash. */
export const TokenInfo = z.object({
  id: z.number().int(),
  name: z.string(),
  createdAt: z.string(),
  /** null: never expires */
  expiresAt: z.string().nullable(),
  /** written at most once a minute */
  lastUsed: z.string().nullable(),
  revoked: z.boolean(),
  expired: z.boolean(),
});
export type TokenInfo = z.infer<typeof TokenInfo>;

const UserParams = z.object({ username: Username });
const TokenId = z.object({ id: z.string().regex(/^[1-9]\d{0,15}$/, "must be a token id") });

export const userRoutes = {
  listUsers: endpoint({
    method: "GET",
    path: "/api/users",
    tag: "users",
    auth: "user",
    summary: "The team: every user (members see it too)",
    response: z.object({ users: z.array(UserInfo) }),
  }),
  createUser: endpoint({
    method: "POST",
    path: "/api/users",
    tag: "users",
    auth: "admin",
    adminOnly: "create users",
    summary: "Create a user",
    body: CreateUserBody,
    status: 201,
    response: UserInfo,
    errors: ["CONFLICT"],
  }),
  updateUser: endpoint({
    method: "PATCH",
    path: "/api/users/:username",
    tag: "users",
    auth: "admin",
    adminOnly: "change users",
    summary: "Change a user's display name or role, reset their password (revokes their credentials), disable them",
    params: UserParams,
    body: UpdateUserBody,
    response: UserInfo,
    errors: ["NOT_FOUND", "CONFLICT"],
  }),
  userTokens: endpoint({
    method: "GET",
    path: "/api/users/:username/tokens",
    tag: "users",
    auth: "user",
    summary: "A user's API tokens (one's own, or anyone's for an admin)",
    params: UserParams,
    response: z.object({ tokens: z.array(TokenInfo) }),
    errors: ["FORBIDDEN", "NOT_FOUND"],
  }),
  listTokens: endpoint({
    method: "GET",
    path: "/api/tokens",
    tag: "users",
    auth: "user",
    summary: "The caller's API tokens",
    response: z.object({ tokens: z.array(TokenInfo) }),
  }),
  createToken: endpoint({
    method: "POST",
    path: "/api/tokens",
    tag: "users",
    auth: "user",
    summary: "Create an API token (its secret is shown this once)",
    body: CreateTokenBody,
    status: 201,
    response: z.object({ id: z.number().int(), name: z.string(), token: z.string(), expiresAt: z.string().nullable() }),
    errors: ["CONFLICT"],
  }),
  revokeToken: endpoint({
    method: "DELETE",
    path: "/api/tokens/:id",
    tag: "users",
    auth: "user",
    summary: "Revoke an API token (one's own, or anyone's for an admin)",
    params: TokenId,
    response: Ok,
    errors: ["FORBIDDEN", "NOT_FOUND"],
  }),
};
