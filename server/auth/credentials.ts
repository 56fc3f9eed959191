import type { Bus, CredentialsEnded } from "../bus.js";
import type { Db } from "../db/open.js";
import type { AuthedUser } from "./profile.js";

/** The credential a request or socket came with, by the SHA-256 of its secret. */
export interface Credential {
  kind: "token" | "session";
  hash: string;
}

/** A credential that works: its user, and when it stops working by itself (null: never). */
export interface Signed {
  user: AuthedUser;
  credential: Credential;
  expiresAt: number | null;
}

/** The answer to a presented credential: who it is, or why it is refused (said to the client as is). */
export type Check = ({ ok: true } & Signed) | { ok: false; reason: string };

export const DAY = 86_400_000;

/** What the parts of AuthService share: the database, the clock (tests move it) and the announcement of ends. */
export interface AuthContext {
  readonly db: Db;
  now(): number;
  /** `ms` (default: now) as an ISO timestamp, as stored */
  iso(ms?: number): string;
  /** announces credentials that ended, so that live sockets holding them are closed at once */
  ended(end: CredentialsEnded): void;
}

/** Announces on the bus only when something ended. */
export function announceEnded(bus: Bus | undefined, end: CredentialsEnded): void {
  const some = end.userId !== undefined || end.tokenHashes?.length || end.sessionHashes?.length;
  if (some) bus?.emit("credentials-ended", end);
}

/**
 * Revokes a user's sessions and/or API tokens, but never `keep` (the credential of the request doing it). Returns
 * the hashes it revoked; the caller drops the revoked tokens from its cache.
 */
export function revokeAll(
  ctx: AuthContext,
  userId: number,
  what: { sessions: boolean; tokens: boolean },
  keep?: Credential,
): { tokenHashes: string[]; sessionHashes: string[] } {
  const now = ctx.iso();
  const revoke = (table: "sessions" | "api_tokens", keepHash: string | undefined): string[] => {
    const hashes = (
      ctx.db.$client
        .prepare(`select token_hash from ${table} where user_id = ? and revoked_at is null`)
        .all(userId) as { token_hash: string }[]
    )
      .map((r) => r.token_hash)
      .filter((h) => h !== keepHash);
    const update = ctx.db.$client.prepare(`update ${table} set revoked_at = ? where token_hash = ?`);
    for (const h of hashes) update.run(now, h);
    return hashes;
  };
  const sessionHashes = what.sessions ? revoke("sessions", keep?.kind === "session" ? keep.hash : undefined) : [];
  const tokenHashes = what.tokens ? revoke("api_tokens", keep?.kind === "token" ? keep.hash : undefined) : [];
  return { tokenHashes, sessionHashes };
}
