import { z } from "zod";
import { SlipError } from "../../protocol/errors.js";
import { KeepRunning } from "../../protocol/run.js";
import type { Db } from "../db/open.js";
import type { Caller } from "../modules/service.js";
import { generatePassword, hashPassword, verifyPassword } from "./passwords.js";
import { LoginThrottle } from "./throttle.js";
import { hashToken, newToken } from "./tokens.js";

export const Profile = z.object({
  keepRunning: KeepRunning.default("on-success"),
  sshKeys: z.array(z.string()).default([]),
  defaultCloud: z.string().default("local"),
  runTimeoutMinutes: z.number().int().min(1).default(60),
});
export type Profile = z.infer<typeof Profile>;

export interface AuthedUser extends Caller {
  profile: Profile;
}

interface UserRow {
  id: number;
  username: string;
  display_name: string;
  role: "admin" | "member";
  password_hash: string;
  profile: string;
  created_at: string;
}

/** A user as the API shows it: never the password hash. */
export interface UserInfo {
  username: string;
  displayName: string;
  role: "admin" | "member";
  createdAt: string;
}

/** An API token as its owner sees it: never the secret nor its hash. */
export interface TokenInfo {
  id: number;
  name: string;
  createdAt: string;
  lastUsed: string | null;
  revoked: boolean;
}

/** Users and bearer tokens. Every API call and socket resolves its caller here. */
export class AuthService {
  /** users by token hash; every change to a user or token drops the entries it affects */
  private readonly cache = new Map<string, AuthedUser>();
  /** last use of each token (by hash), in memory: shown in the token list */
  private readonly lastUsed = new Map<string, string>();
  readonly throttle = new LoginThrottle();

  constructor(private readonly db: Db) {}

  /** Creates `admin` on first start; returns the generated password when none was given (printed once). */
  async ensureAdmin(password: string | undefined): Promise<{ created: boolean; generated: string | null }> {
    const existing = this.db.$client.prepare("select id from users where username = 'admin'").get();
    if (existing) return { created: false, generated: null };
    const generated = password ? null : generatePassword();
    await this.createUser("admin", "Administrator", "admin", password ?? generated!);
    return { created: true, generated };
  }

  async createUser(username: string, displayName: string, role: "admin" | "member", password: string): Promise<number> {
    const hash = await hashPassword(password);
    try {
      const r = this.db.$client
        .prepare("insert into users (username, display_name, role, password_hash, profile) values (?, ?, ?, ?, ?)")
        .run(username, displayName, role, hash, JSON.stringify(Profile.parse({})));
      return Number(r.lastInsertRowid);
    } catch (err) {
      if (String(err).includes("UNIQUE")) throw new SlipError("CONFLICT", `username: '${username}' is taken`);
      throw err;
    }
  }

  /**
   * Checks a sign-in, throttled per username+address and per username (see LoginThrottle). The attempt is counted
   * before the slow password check, so concurrent wrong passwords cannot all pass the limit; a right one takes it back.
   */
  private async verifyCredentials(username: string, password: string, ip: string): Promise<UserRow> {
    const attempt = this.throttle.attempt(username, ip);
    const row = this.db.$client.prepare("select * from users where username = ?").get(username) as UserRow | undefined;
    // verify against a dummy hash for unknown users too, so timing does not reveal which usernames exist
    const ok = await verifyPassword(password, row?.password_hash ?? DUMMY_HASH);
    if (!row || !ok) throw new SlipError("UNAUTHORIZED", "wrong username or password");
    this.throttle.succeed(attempt);
    return row;
  }

  async login(
    username: string,
    password: string,
    tokenName = "login",
    ip = "unknown",
  ): Promise<{ token: string; user: AuthedUser }> {
    const row = await this.verifyCredentials(username, password, ip);
    const token = newToken("ss");
    this.db.$client
      .prepare("insert into api_tokens (user_id, name, token_hash) values (?, ?, ?)")
      .run(row.id, tokenName, hashToken(token));
    return { token, user: this.toUser(row) };
  }

  authenticate(token: string | undefined): AuthedUser | null {
    if (!token) return null;
    const hash = hashToken(token);
    const cached = this.cache.get(hash);
    if (cached) {
      this.lastUsed.set(hash, new Date().toISOString());
      return cached;
    }
    const row = this.db.$client
      .prepare(
        "select users.* from api_tokens join users on users.id = api_tokens.user_id where token_hash = ? and revoked_at is null",
      )
      .get(hash) as UserRow | undefined;
    if (!row) return null;
    const user = this.toUser(row);
    this.cache.set(hash, user);
    this.lastUsed.set(hash, new Date().toISOString());
    return user;
  }

  /** A browser session: the cookie secret and the CSRF token the page must echo on state-changing requests. */
  async createSession(
    username: string,
    password: string,
    ip = "unknown",
  ): Promise<{ token: string; csrfToken: string; user: AuthedUser }> {
    const row = await this.verifyCredentials(username, password, ip);
    const token = newToken("sess");
    const csrfToken = newToken("csrf");
    const expires = new Date(Date.now() + SESSION_DAYS * 86_400_000).toISOString();
    this.db.$client
      .prepare("insert into sessions (user_id, token_hash, csrf_token, expires_at) values (?, ?, ?, ?)")
      .run(row.id, hashToken(token), csrfToken, expires);
    return { token, csrfToken, user: this.toUser(row) };
  }

  session(token: string | undefined): { user: AuthedUser; csrfToken: string } | null {
    if (!token) return null;
    const row = this.db.$client
      .prepare(
        `select users.*, sessions.csrf_token from sessions join users on users.id = sessions.user_id
         where token_hash = ? and revoked_at is null and expires_at > ?`,
      )
      .get(hashToken(token), new Date().toISOString()) as (UserRow & { csrf_token: string }) | undefined;
    return row ? { user: this.toUser(row), csrfToken: row.csrf_token } : null;
  }

  revokeSession(token: string): void {
    this.db.$client
      .prepare("update sessions set revoked_at = ? where token_hash = ?")
      .run(new Date().toISOString(), hashToken(token));
  }

  revoke(token: string): void {
    const hash = hashToken(token);
    this.db.$client
      .prepare("update api_tokens set revoked_at = ? where token_hash = ?")
      .run(new Date().toISOString(), hash);
    this.cache.delete(hash);
  }

  // ---- users ---------------------------------------------------------------------------------------------

  listUsers(): UserInfo[] {
    const rows = this.db.$client.prepare("select * from users order by username").all() as UserRow[];
    return rows.map(toInfo);
  }

  userInfo(username: string): UserInfo {
    return toInfo(this.row(username));
  }

  private row(username: string): UserRow {
    const row = this.db.$client.prepare("select * from users where username = ?").get(username) as UserRow | undefined;
    if (!row) throw new SlipError("NOT_FOUND", `user '${username}' not found`);
    return row;
  }

  /** Admin: display name, role, password reset. The last admin cannot be demoted. */
  async updateUser(
    username: string,
    change: { displayName?: string; role?: "admin" | "member"; password?: string },
  ): Promise<UserInfo> {
    const row = this.row(username);
    if (change.role === "member" && row.role === "admin") {
      const admins = (
        this.db.$client.prepare("select count(*) as n from users where role = 'admin'").get() as { n: number }
      ).n;
      if (admins <= 1) throw new SlipError("CONFLICT", `role: '${username}' is the last admin`);
    }
    const hash = change.password === undefined ? row.password_hash : await hashPassword(change.password);
    this.db.$client.transaction(() => {
      this.db.$client
        .prepare("update users set display_name = ?, role = ?, password_hash = ? where id = ?")
        .run(change.displayName ?? row.display_name, change.role ?? row.role, hash, row.id);
      // a reset password is often a suspected leak: browsers signed in with the old one are signed out
      if (change.password !== undefined) {
        this.db.$client
          .prepare("update sessions set revoked_at = ? where user_id = ? and revoked_at is null")
          .run(new Date().toISOString(), row.id);
      }
    })();
    this.forgetUser(row.id);
    return this.userInfo(username);
  }

  /** A user changing their own password must give the current one. */
  async changePassword(userId: number, current: string, next: string): Promise<void> {
    const row = this.db.$client.prepare("select * from users where id = ?").get(userId) as UserRow | undefined;
    if (!row) throw new SlipError("NOT_FOUND", "user not found");
    if (!(await verifyPassword(current, row.password_hash))) {
      throw new SlipError("FORBIDDEN", "currentPassword: does not match your current password");
    }
    this.db.$client.prepare("update users set password_hash = ? where id = ?").run(await hashPassword(next), userId);
  }

  /** Stores a validated profile; cached users are dropped so the next run uses the new defaults. */
  updateProfile(userId: number, profile: Profile): Profile {
    const clean = Profile.parse(profile);
    this.db.$client.prepare("update users set profile = ? where id = ?").run(JSON.stringify(clean), userId);
    this.forgetUser(userId);
    return clean;
  }

  private forgetUser(userId: number): void {
    for (const [hash, u] of this.cache) if (u.id === userId) this.cache.delete(hash);
  }

  // ---- API tokens ----------------------------------------------------------------------------------------

  /** A named token for the CLI or CI; the secret is returned here only, and stored hashed. */
  createToken(userId: number, name: string): { id: number; name: string; token: string } {
    const token = newToken("ss");
    const r = this.db.$client
      .prepare("insert into api_tokens (user_id, name, token_hash) values (?, ?, ?)")
      .run(userId, name, hashToken(token));
    return { id: Number(r.lastInsertRowid), name, token };
  }

  listTokens(userId: number): TokenInfo[] {
    const rows = this.db.$client
      .prepare("select id, name, token_hash, created_at, revoked_at from api_tokens where user_id = ? order by id")
      .all(userId) as { id: number; name: string; token_hash: string; created_at: string; revoked_at: string | null }[];
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      createdAt: r.created_at,
      lastUsed: this.lastUsed.get(r.token_hash) ?? null,
      revoked: r.revoked_at !== null,
    }));
  }

  /** Revokes by id (its owner or an admin); the cached user of that token is dropped, so it fails at once. */
  revokeTokenById(caller: Caller, id: number): void {
    const row = this.db.$client
      .prepare("select user_id, token_hash, revoked_at from api_tokens where id = ?")
      .get(id) as { user_id: number; token_hash: string; revoked_at: string | null } | undefined;
    if (!row) throw new SlipError("NOT_FOUND", `token ${id} not found`);
    if (row.user_id !== caller.id && caller.role !== "admin") {
      throw new SlipError("FORBIDDEN", `token ${id} belongs to another user`);
    }
    if (row.revoked_at === null) {
      this.db.$client.prepare("update api_tokens set revoked_at = ? where id = ?").run(new Date().toISOString(), id);
    }
    this.cache.delete(row.token_hash);
    this.lastUsed.delete(row.token_hash);
  }

  private toUser(row: UserRow): AuthedUser {
    return { id: row.id, username: row.username, role: row.role, profile: Profile.parse(JSON.parse(row.profile)) };
  }
}

function toInfo(row: UserRow): UserInfo {
  return { username: row.username, displayName: row.display_name, role: row.role, createdAt: row.created_at };
}

const SESSION_DAYS = 7;

const DUMMY_HASH = "scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
