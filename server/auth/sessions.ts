import { type AuthContext, DAY, type Signed } from "./credentials.js";
import { toAuthedUser, type UserRow } from "./profile.js";
import { hashToken, newToken } from "./tokens.js";

const SESSION_DAYS = 7;

/** Browser sessions: a cookie secret, stored hashed, and the CSRF token the page echoes. */
export class Sessions {
  constructor(private readonly ctx: AuthContext) {}

  /** A new session of a user whose password was just checked. */
  create(row: UserRow): { token: string; csrfToken: string } {
    const token = newToken("sess");
    const csrfToken = newToken("csrf");
    const expires = this.ctx.iso(this.ctx.now() + SESSION_DAYS * DAY);
    this.ctx.db.$client
      .prepare("insert into sessions (user_id, token_hash, csrf_token, expires_at) values (?, ?, ?, ?)")
      .run(row.id, hashToken(token), csrfToken, expires);
    return { token, csrfToken };
  }

  /** A browser session that works (not revoked, not expired, its user not disabled), or null. */
  find(token: string | undefined): ({ csrfToken: string } & Signed) | null {
    if (!token) return null;
    const hash = hashToken(token);
    const row = this.ctx.db.$client
      .prepare(
        `select users.*, sessions.csrf_token, sessions.expires_at from sessions join users on users.id = sessions.user_id
         where token_hash = ? and revoked_at is null and expires_at > ? and users.disabled_at is null`,
      )
      .get(hash, this.ctx.iso()) as (UserRow & { csrf_token: string; expires_at: string }) | undefined;
    if (!row) return null;
    return {
      user: toAuthedUser(row),
      csrfToken: row.csrf_token,
      credential: { kind: "session", hash },
      expiresAt: Date.parse(row.expires_at),
    };
  }

  /** Signing out of a browser. */
  revoke(token: string): void {
    const hash = hashToken(token);
    this.ctx.db.$client
      .prepare("update sessions set revoked_at = ? where token_hash = ? and revoked_at is null")
      .run(this.ctx.iso(), hash);
    this.ctx.ended({ sessionHashes: [hash], reason: "signed out" });
  }
}
