import type { TokenInfo } from "../../protocol/catalog/users.js";
import { SlipError } from "../../protocol/errors.js";
import type { Caller } from "../modules/service.js";
import { type AuthContext, type Check, DAY } from "./credentials.js";
import { type AuthedUser, toAuthedUser, type UserRow } from "./profile.js";
import { hashToken, newToken } from "./tokens.js";

interface CachedToken {
  user: AuthedUser;
  id: number;
  expiresAt: number | null;
  /** when last_used_at was last written */
  usedWritten: number;
}

/** tokens made by `slipstream login`, and the default of those made in the profile */
const TOKEN_DAYS = 90;
/** last_used_at is written at most this often per token: no database write per request */
const LAST_USED_EVERY_MS = 60_000;

/** Bearer tokens: for the CLI (`slipstream login`), CI, and every API call that does not come with a session. */
export class ApiTokens {
  /** token hash → its user and expiry; every change to a user or token drops the entries it affects */
  private readonly cache = new Map<string, CachedToken>();

  constructor(private readonly ctx: AuthContext) {}

  /**
   * A named token for the CLI or CI; the secret is returned here only, and stored hashed. `lifetimeMs` null: it
   * never expires.
   */
  create(
    userId: number,
    name: string,
    lifetimeMs: number | null = TOKEN_DAYS * DAY,
  ): { id: number; name: string; token: string; expiresAt: string | null } {
    const token = newToken("ss");
    const expiresAt = lifetimeMs === null ? null : this.ctx.iso(this.ctx.now() + lifetimeMs);
    const r = this.ctx.db.$client
      .prepare("insert into api_tokens (user_id, name, token_hash, expires_at) values (?, ?, ?, ?)")
      .run(userId, name, hashToken(token), expiresAt);
    return { id: Number(r.lastInsertRowid), name, token, expiresAt };
  }

  /**
   * A bearer token: its user, or why it is refused. A cached token is re-checked for expiry on every use; its last
   * use is written at most once a minute.
   */
  check(token: string): Check {
    const hash = hashToken(token);
    const now = this.ctx.now();
    let entry = this.cache.get(hash);
    if (!entry) {
      const row = this.ctx.db.$client
        .prepare(
          `select users.*, api_tokens.id as token_id, api_tokens.expires_at, api_tokens.last_used_at,
             api_tokens.revoked_at
           from api_tokens join users on users.id = api_tokens.user_id where token_hash = ?`,
        )
        .get(hash) as
        | (UserRow & {
            token_id: number;
            expires_at: string | null;
            last_used_at: string | null;
            revoked_at: string | null;
          })
        | undefined;
      if (!row || row.revoked_at !== null) {
        return { ok: false, reason: "the token is unknown or revoked; sign in again (slipstream login)" };
      }
      if (row.disabled_at !== null) {
        return { ok: false, reason: `user '${row.username}' is disabled; an admin can enable it again` };
      }
      entry = {
        user: toAuthedUser(row),
        id: row.token_id,
        expiresAt: row.expires_at === null ? null : Date.parse(row.expires_at),
        usedWritten: row.last_used_at === null ? Number.NEGATIVE_INFINITY : Date.parse(row.last_used_at),
      };
      this.cache.set(hash, entry);
    }
    if (entry.expiresAt !== null && now >= entry.expiresAt) {
      return {
        ok: false,
        reason: `the token expired on ${this.ctx.iso(entry.expiresAt)}; run slipstream login again (or create a new token in your profile)`,
      };
    }
    if (now - entry.usedWritten >= LAST_USED_EVERY_MS) {
      entry.usedWritten = now;
      this.ctx.db.$client
        .prepare("update api_tokens set last_used_at = ? where id = ?")
        .run(this.ctx.iso(now), entry.id);
    }
    return { ok: true, user: entry.user, credential: { kind: "token", hash }, expiresAt: entry.expiresAt };
  }

  list(userId: number): TokenInfo[] {
    const rows = this.ctx.db.$client
      .prepare(
        "select id, name, created_at, expires_at, last_used_at, revoked_at from api_tokens where user_id = ? order by id",
      )
      .all(userId) as {
      id: number;
      name: string;
      created_at: string;
      expires_at: string | null;
      last_used_at: string | null;
      revoked_at: string | null;
    }[];
    const now = this.ctx.now();
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
      lastUsed: r.last_used_at,
      revoked: r.revoked_at !== null,
      expired: r.expires_at !== null && now >= Date.parse(r.expires_at),
    }));
  }

  /** Signing out with a bearer token (`POST /api/auth/logout`): the token ends. */
  revoke(token: string): void {
    const hash = hashToken(token);
    this.ctx.db.$client
      .prepare("update api_tokens set revoked_at = ? where token_hash = ? and revoked_at is null")
      .run(this.ctx.iso(), hash);
    this.cache.delete(hash);
    this.ctx.ended({ tokenHashes: [hash], reason: "signed out" });
  }

  /** Revokes by id (its owner or an admin); the cached user of that token is dropped, so it fails at once. */
  revokeById(caller: Caller, id: number): void {
    const row = this.ctx.db.$client
      .prepare("select user_id, name, token_hash, revoked_at from api_tokens where id = ?")
      .get(id) as { user_id: number; name: string; token_hash: string; revoked_at: string | null } | undefined;
    if (!row) throw new SlipError("NOT_FOUND", `token ${id} not found`);
    if (row.user_id !== caller.id && caller.role !== "admin") {
      throw new SlipError("FORBIDDEN", `token ${id} belongs to another user`);
    }
    if (row.revoked_at === null) {
      this.ctx.db.$client.prepare("update api_tokens set revoked_at = ? where id = ?").run(this.ctx.iso(), id);
    }
    this.cache.delete(row.token_hash);
    this.ctx.ended({ tokenHashes: [row.token_hash], reason: `the token '${row.name}' was revoked` });
  }

  /** Drops revoked tokens from the cache, so they fail at once. */
  forget(hashes: readonly string[]): void {
    for (const h of hashes) this.cache.delete(h);
  }

  /** Drops every cached token of a user (changed, disabled): the next use reads the user again. */
  forgetUser(userId: number): void {
    for (const [hash, t] of this.cache) if (t.user.id === userId) this.cache.delete(hash);
  }
}
