import type { UserInfo } from "../../protocol/catalog/users.js";
import { fieldError, SlipError } from "../../protocol/errors.js";
import type { Caller } from "../modules/service.js";
import type { ApiTokens } from "./api-tokens.js";
import { type AuthContext, type Credential, revokeAll } from "./credentials.js";
import { generatePassword, type HashingGate, hashPassword, verifyPassword } from "./passwords.js";
import { Profile, type UserRow } from "./profile.js";
import type { LoginThrottle } from "./throttle.js";

/** The team's accounts: creating, listing, changing and disabling them, and passwords. */
export class Users {
  constructor(
    private readonly ctx: AuthContext,
    private readonly gates: { throttle: LoginThrottle; hashing: HashingGate },
    private readonly tokens: ApiTokens,
  ) {}

  /** Creates `admin` on first start; returns the generated password when none was given (printed once). */
  async ensureAdmin(password: string | undefined): Promise<{ created: boolean; generated: string | null }> {
    const existing = this.ctx.db.$client.prepare("select id from users where username = 'admin'").get();
    if (existing) return { created: false, generated: null };
    const generated = password ? null : generatePassword();
    await this.create("admin", "Administrator", "admin", password ?? generated!);
    return { created: true, generated };
  }

  async create(username: string, displayName: string, role: "admin" | "member", password: string): Promise<number> {
    const hash = await this.gates.hashing.run(() => hashPassword(password));
    try {
      const r = this.ctx.db.$client
        .prepare("insert into users (username, display_name, role, password_hash, profile) values (?, ?, ?, ?, ?)")
        .run(username, displayName, role, hash, JSON.stringify(Profile.parse({})));
      return Number(r.lastInsertRowid);
    } catch (err) {
      if (String(err).includes("UNIQUE")) throw fieldError("username", `'${username}' is taken`, "CONFLICT");
      throw err;
    }
  }

  list(): UserInfo[] {
    const rows = this.ctx.db.$client.prepare("select * from users order by username").all() as UserRow[];
    return rows.map(toInfo);
  }

  info(username: string): UserInfo {
    return toInfo(this.row(username));
  }

  row(username: string): UserRow {
    const row = this.ctx.db.$client.prepare("select * from users where username = ?").get(username) as
      | UserRow
      | undefined;
    if (!row) throw new SlipError("NOT_FOUND", `user '${username}' not found`);
    return row;
  }

  /** Admins other than `exceptId` who can still act: the team must keep one. */
  private otherEnabledAdmins(exceptId: number): number {
    return (
      this.ctx.db.$client
        .prepare("select count(*) as n from users where role = 'admin' and disabled_at is null and id != ?")
        .get(exceptId) as { n: number }
    ).n;
  }

  /**
   * Admin: display name, role, password reset, disabling. The last enabled admin can be neither demoted nor
   * disabled, and no admin disables themselves. A reset means a suspected leak: every session and API token of that
   * user is revoked (but the one making the request, when an admin resets their own). Disabling revokes nothing: it
   * blocks every token and session of the user until they are enabled again.
   */
  async update(
    caller: Caller,
    username: string,
    change: { displayName?: string; role?: "admin" | "member"; password?: string; disabled?: boolean },
    keep?: Credential,
  ): Promise<UserInfo> {
    const row = this.row(username);
    if (change.role === "member" && row.role === "admin" && this.otherEnabledAdmins(row.id) === 0) {
      throw fieldError("role", `'${username}' is the last enabled admin`, "CONFLICT");
    }
    if (change.disabled === true && row.disabled_at === null) {
      if (row.id === caller.id) throw fieldError("disabled", "you cannot disable your own account", "CONFLICT");
      if (row.role === "admin" && this.otherEnabledAdmins(row.id) === 0) {
        throw fieldError("disabled", `'${username}' is the last enabled admin`, "CONFLICT");
      }
    }
    const hash =
      change.password === undefined
        ? row.password_hash
        : await this.gates.hashing.run(() => hashPassword(change.password as string));
    const disabledAt =
      change.disabled === undefined ? row.disabled_at : change.disabled ? (row.disabled_at ?? this.ctx.iso()) : null;
    let revoked = { tokenHashes: [] as string[], sessionHashes: [] as string[] };
    this.ctx.db.$client.transaction(() => {
      this.ctx.db.$client
        .prepare("update users set display_name = ?, role = ?, password_hash = ?, disabled_at = ? where id = ?")
        .run(change.displayName ?? row.display_name, change.role ?? row.role, hash, disabledAt, row.id);
      if (change.password !== undefined) {
        revoked = revokeAll(
          this.ctx,
          row.id,
          { sessions: true, tokens: true },
          row.id === caller.id ? keep : undefined,
        );
        this.tokens.forget(revoked.tokenHashes);
      }
    })();
    this.tokens.forgetUser(row.id);
    if (disabledAt !== null && row.disabled_at === null) {
      this.ctx.ended({ userId: row.id, reason: "your account was disabled by an admin" });
    } else if (change.password !== undefined) {
      this.ctx.ended({ ...revoked, reason: "your password was reset by an admin; sign in with the new one" });
    }
    return this.info(username);
  }

  /**
   * A user changing their own password must give the current one (throttled like a sign-in). Every other session
   * of theirs is signed out; their API tokens stay unless `revokeTokens`, and the credential making the request
   * always stays.
   */
  async changePassword(
    userId: number,
    current: string,
    next: string,
    opts: { keep?: Credential; revokeTokens?: boolean; ip?: string } = {},
  ): Promise<{ revokedSessions: number; revokedTokens: number }> {
    const { throttle, hashing } = this.gates;
    const row = this.ctx.db.$client.prepare("select * from users where id = ?").get(userId) as UserRow | undefined;
    if (!row) throw new SlipError("NOT_FOUND", "user not found");
    const attempt = throttle.attempt(row.username, opts.ip ?? "unknown");
    if (!(await hashing.run(() => verifyPassword(current, row.password_hash)))) {
      throw fieldError("currentPassword", "does not match your current password", "FORBIDDEN");
    }
    throttle.succeed(attempt);
    const hash = await hashing.run(() => hashPassword(next));
    let revoked = { tokenHashes: [] as string[], sessionHashes: [] as string[] };
    this.ctx.db.$client.transaction(() => {
      this.ctx.db.$client.prepare("update users set password_hash = ? where id = ?").run(hash, userId);
      revoked = revokeAll(this.ctx, userId, { sessions: true, tokens: opts.revokeTokens === true }, opts.keep);
      this.tokens.forget(revoked.tokenHashes);
    })();
    this.ctx.ended({ ...revoked, reason: "your password was changed; sign in with the new one" });
    return { revokedSessions: revoked.sessionHashes.length, revokedTokens: revoked.tokenHashes.length };
  }
}

function toInfo(row: UserRow): UserInfo {
  return {
    username: row.username,
    displayName: row.display_name,
    role: row.role,
    createdAt: row.created_at,
    disabled: row.disabled_at !== null,
  };
}
