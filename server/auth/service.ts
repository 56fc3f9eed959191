import { z } from "zod";
import { SlipError } from "../../protocol/errors.js";
import { KeepRunning } from "../../protocol/run.js";
import type { Bus, CredentialsEnded } from "../bus.js";
import type { Db } from "../db/open.js";
import type { SqlRow } from "../db/rows.js";
import type { users } from "../db/schema.js";
import type { Caller } from "../modules/service.js";
import { DUMMY_HASH, generatePassword, HashingGate, hashPassword, needsRehash, verifyPassword } from "./passwords.js";
import { LoginThrottle } from "./throttle.js";
import { hashToken, newToken } from "./tokens.js";

export const Profile = z.object({
  keepRunning: KeepRunning.default("on-success"),
  sshKeys: z.array(z.string()).default([]),
  defaultCloud: z.string().default("local"),
  // SlipStream's default: the whole climb to Ready (run-rules R15)
  runTimeoutMinutes: z.number().int().min(1).default(30),
  // an agent silent this long is lost (run-rules R19)
  lostAfterSeconds: z.number().int().min(1).default(60),
});
export type Profile = z.infer<typeof Profile>;

export interface AuthedUser extends Caller {
  profile: Profile;
}

type UserRow = SqlRow<typeof users>;

/** A user as the API shows it: never the password hash. */
export interface UserInfo {
  username: string;
  displayName: string;
  role: "admin" | "member";
  createdAt: string;
  /** disabled by an admin: cannot sign in, and none of their tokens or sessions work */
  disabled: boolean;
}

/** An API token as its owner sees it: never the secret nor its hash. */
export interface TokenInfo {
  id: number;
  name: string;
  createdAt: string;
  /** null: never expires */
  expiresAt: string | null;
  /** written at most once a minute */
  lastUsed: string | null;
  revoked: boolean;
  expired: boolean;
}

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

interface CachedToken {
  user: AuthedUser;
  id: number;
  expiresAt: number | null;
  /** when last_used_at was last written */
  usedWritten: number;
}

const DAY = 86_400_000;
/** tokens made by `slipstream login`, and the default of those made in the profile */
export const TOKEN_DAYS = 90;
const SESSION_DAYS = 7;
/** last_used_at is written at most this often per token: no database write per request */
const LAST_USED_EVERY_MS = 60_000;

/**
 * Users, bearer tokens and browser sessions. Every API call and socket resolves its caller here, and every way a
 * credential ends (revoked, signed out, password reset or changed, user disabled) is announced on the bus so that
 * live sockets holding it are closed at once.
 */
export class AuthService {
  /** token hash → its user and expiry; every change to a user or token drops the entries it affects */
  private readonly cache = new Map<string, CachedToken>();
  readonly throttle = new LoginThrottle();
  /** one per process: scrypt shares libuv's thread pool with every file operation */
  readonly hashing = new HashingGate();
  /** the clock for expiry and last use; tests move it */
  now: () => number = () => Date.now();

  constructor(
    private readonly db: Db,
    private readonly bus?: Bus,
  ) {}

  private ended(end: CredentialsEnded): void {
    const some = end.userId !== undefined || end.tokenHashes?.length || end.sessionHashes?.length;
    if (some) this.bus?.emit("credentials-ended", end);
  }

  private iso(ms = this.now()): string {
    return new Date(ms).toISOString();
  }

  /** Creates `admin` on first start; returns the generated password when none was given (printed once). */
  async ensureAdmin(password: string | undefined): Promise<{ created: boolean; generated: string | null }> {
    const existing = this.db.$client.prepare("select id from users where username = 'admin'").get();
    if (existing) return { created: false, generated: null };
    const generated = password ? null : generatePassword();
    await this.createUser("admin", "Administrator", "admin", password ?? generated!);
    return { created: true, generated };
  }

  async createUser(username: string, displayName: string, role: "admin" | "member", password: string): Promise<number> {
    const hash = await this.hashing.run(() => hashPassword(password));
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
   * Checks a sign-in, throttled per username+address, per address and per username (see LoginThrottle), before any
   * hashing; the hash itself waits its turn at the process-wide gate, or is refused at once when too many wait. The
   * attempt is counted before the slow password check, so concurrent wrong passwords cannot all pass the limit; a
   * right one takes it back, and one refused by the gate never counted. A hash made with older parameters is
   * replaced now that the password is known.
   */
  private async verifyCredentials(username: string, password: string, ip: string): Promise<UserRow> {
    const known = this.throttle.isKnown(username, ip);
    const attempt = this.throttle.attempt(username, ip);
    const row = this.db.$client.prepare("select * from users where username = ?").get(username) as UserRow | undefined;
    let ok: boolean;
    try {
      // verify against a dummy hash for unknown users too, so timing does not reveal which usernames exist
      ok = await this.hashing.run(() => verifyPassword(password, row?.password_hash ?? DUMMY_HASH), {
        bounded: true,
        urgent: known,
      });
    } catch (err) {
      this.throttle.cancel(attempt);
      throw err;
    }
    if (!row || !ok) throw new SlipError("UNAUTHORIZED", "wrong username or password");
    this.throttle.succeed(attempt);
    // said only to whoever knows the password: a guesser learns nothing about the account
    if (row.disabled_at !== null) {
      throw new SlipError("FORBIDDEN", `user '${row.username}' is disabled; an admin can enable it again`);
    }
    if (needsRehash(row.password_hash)) await this.rehash(row, password);
    return row;
  }

  private async rehash(row: UserRow, password: string): Promise<void> {
    try {
      // after a right password only (at most once per user): it does not wait behind a flood of guesses
      const hash = await this.hashing.run(() => hashPassword(password), { urgent: true });
      // only if the password was not changed meanwhile
      this.db.$client
        .prepare("update users set password_hash = ? where id = ? and password_hash = ?")
        .run(hash, row.id, row.password_hash);
    } catch {
      // an upgrade of the stored hash is opportunistic: the next sign-in tries again
    }
  }

  async login(
    username: string,
    password: string,
    tokenName = "login",
    ip = "unknown",
  ): Promise<{ token: string; expiresAt: string; user: AuthedUser }> {
    const row = await this.verifyCredentials(username, password, ip);
    const token = newToken("ss");
    const expiresAt = this.iso(this.now() + TOKEN_DAYS * DAY);
    this.db.$client
      .prepare("insert into api_tokens (user_id, name, token_hash, expires_at) values (?, ?, ?, ?)")
      .run(row.id, tokenName, hashToken(token), expiresAt);
    return { token, expiresAt, user: this.toUser(row) };
  }

  authenticate(token: string | undefined): AuthedUser | null {
    if (!token) return null;
    const c = this.checkToken(token);
    return c.ok ? c.user : null;
  }

  /**
   * A bearer token: its user, or why it is refused. A cached token is re-checked for expiry on every use; its last
   * use is written at most once a minute.
   */
  checkToken(token: string): Check {
    const hash = hashToken(token);
    const now = this.now();
    let entry = this.cache.get(hash);
    if (!entry) {
      const row = this.db.$client
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
        user: this.toUser(row),
        id: row.token_id,
        expiresAt: row.expires_at === null ? null : Date.parse(row.expires_at),
        usedWritten: row.last_used_at === null ? Number.NEGATIVE_INFINITY : Date.parse(row.last_used_at),
      };
      this.cache.set(hash, entry);
    }
    if (entry.expiresAt !== null && now >= entry.expiresAt) {
      return {
        ok: false,
        reason: `the token expired on ${this.iso(entry.expiresAt)}; run slipstream login again (or create a new token in your profile)`,
      };
    }
    if (now - entry.usedWritten >= LAST_USED_EVERY_MS) {
      entry.usedWritten = now;
      this.db.$client.prepare("update api_tokens set last_used_at = ? where id = ?").run(this.iso(now), entry.id);
    }
    return { ok: true, user: entry.user, credential: { kind: "token", hash }, expiresAt: entry.expiresAt };
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
    const expires = this.iso(this.now() + SESSION_DAYS * DAY);
    this.db.$client
      .prepare("insert into sessions (user_id, token_hash, csrf_token, expires_at) values (?, ?, ?, ?)")
      .run(row.id, hashToken(token), csrfToken, expires);
    return { token, csrfToken, user: this.toUser(row) };
  }

  /** A browser session that works (not revoked, not expired, its user not disabled), or null. */
  session(token: string | undefined): ({ csrfToken: string } & Signed) | null {
    if (!token) return null;
    const hash = hashToken(token);
    const row = this.db.$client
      .prepare(
        `select users.*, sessions.csrf_token, sessions.expires_at from sessions join users on users.id = sessions.user_id
         where token_hash = ? and revoked_at is null and expires_at > ? and users.disabled_at is null`,
      )
      .get(hash, this.iso()) as (UserRow & { csrf_token: string; expires_at: string }) | undefined;
    if (!row) return null;
    return {
      user: this.toUser(row),
      csrfToken: row.csrf_token,
      credential: { kind: "session", hash },
      expiresAt: Date.parse(row.expires_at),
    };
  }

  /** Signing out of a browser. */
  revokeSession(token: string): void {
    const hash = hashToken(token);
    this.db.$client
      .prepare("update sessions set revoked_at = ? where token_hash = ? and revoked_at is null")
      .run(this.iso(), hash);
    this.ended({ sessionHashes: [hash], reason: "signed out" });
  }

  /** Signing out with a bearer token (`POST /api/auth/logout`): the token ends. */
  revoke(token: string): void {
    const hash = hashToken(token);
    this.db.$client
      .prepare("update api_tokens set revoked_at = ? where token_hash = ? and revoked_at is null")
      .run(this.iso(), hash);
    this.cache.delete(hash);
    this.ended({ tokenHashes: [hash], reason: "signed out" });
  }

  /**
   * Revokes a user's sessions and/or API tokens, but never `keep` (the credential of the request doing it). Returns
   * the hashes it revoked.
   */
  private revokeAll(
    userId: number,
    what: { sessions: boolean; tokens: boolean },
    keep?: Credential,
  ): { tokenHashes: string[]; sessionHashes: string[] } {
    const now = this.iso();
    const revoke = (table: "sessions" | "api_tokens", keepHash: string | undefined): string[] => {
      const hashes = (
        this.db.$client
          .prepare(`select token_hash from ${table} where user_id = ? and revoked_at is null`)
          .all(userId) as { token_hash: string }[]
      )
        .map((r) => r.token_hash)
        .filter((h) => h !== keepHash);
      const update = this.db.$client.prepare(`update ${table} set revoked_at = ? where token_hash = ?`);
      for (const h of hashes) update.run(now, h);
      return hashes;
    };
    const sessionHashes = what.sessions ? revoke("sessions", keep?.kind === "session" ? keep.hash : undefined) : [];
    const tokenHashes = what.tokens ? revoke("api_tokens", keep?.kind === "token" ? keep.hash : undefined) : [];
    for (const h of tokenHashes) this.cache.delete(h);
    return { tokenHashes, sessionHashes };
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

  /** Admins other than `exceptId` who can still act: the team must keep one. */
  private otherEnabledAdmins(exceptId: number): number {
    return (
      this.db.$client
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
  async updateUser(
    caller: Caller,
    username: string,
    change: { displayName?: string; role?: "admin" | "member"; password?: string; disabled?: boolean },
    keep?: Credential,
  ): Promise<UserInfo> {
    const row = this.row(username);
    if (change.role === "member" && row.role === "admin" && this.otherEnabledAdmins(row.id) === 0) {
      throw new SlipError("CONFLICT", `role: '${username}' is the last enabled admin`);
    }
    if (change.disabled === true && row.disabled_at === null) {
      if (row.id === caller.id) throw new SlipError("CONFLICT", "disabled: you cannot disable your own account");
      if (row.role === "admin" && this.otherEnabledAdmins(row.id) === 0) {
        throw new SlipError("CONFLICT", `disabled: '${username}' is the last enabled admin`);
      }
    }
    const hash =
      change.password === undefined
        ? row.password_hash
        : await this.hashing.run(() => hashPassword(change.password as string));
    const disabledAt =
      change.disabled === undefined ? row.disabled_at : change.disabled ? (row.disabled_at ?? this.iso()) : null;
    let revoked = { tokenHashes: [] as string[], sessionHashes: [] as string[] };
    this.db.$client.transaction(() => {
      this.db.$client
        .prepare("update users set display_name = ?, role = ?, password_hash = ?, disabled_at = ? where id = ?")
        .run(change.displayName ?? row.display_name, change.role ?? row.role, hash, disabledAt, row.id);
      if (change.password !== undefined) {
        revoked = this.revokeAll(row.id, { sessions: true, tokens: true }, row.id === caller.id ? keep : undefined);
      }
    })();
    this.forgetUser(row.id);
    if (disabledAt !== null && row.disabled_at === null) {
      this.ended({ userId: row.id, reason: "your account was disabled by an admin" });
    } else if (change.password !== undefined) {
      this.ended({ ...revoked, reason: "your password was reset by an admin; sign in with the new one" });
    }
    return this.userInfo(username);
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
    const row = this.db.$client.prepare("select * from users where id = ?").get(userId) as UserRow | undefined;
    if (!row) throw new SlipError("NOT_FOUND", "user not found");
    const attempt = this.throttle.attempt(row.username, opts.ip ?? "unknown");
    if (!(await this.hashing.run(() => verifyPassword(current, row.password_hash)))) {
      throw new SlipError("FORBIDDEN", "currentPassword: does not match your current password");
    }
    this.throttle.succeed(attempt);
    const hash = await this.hashing.run(() => hashPassword(next));
    let revoked = { tokenHashes: [] as string[], sessionHashes: [] as string[] };
    this.db.$client.transaction(() => {
      this.db.$client.prepare("update users set password_hash = ? where id = ?").run(hash, userId);
      revoked = this.revokeAll(userId, { sessions: true, tokens: opts.revokeTokens === true }, opts.keep);
    })();
    this.ended({ ...revoked, reason: "your password was changed; sign in with the new one" });
    return { revokedSessions: revoked.sessionHashes.length, revokedTokens: revoked.tokenHashes.length };
  }

  /** Stores a validated profile; cached users are dropped so the next run uses the new defaults. */
  updateProfile(userId: number, profile: z.input<typeof Profile>): Profile {
    const clean = Profile.parse(profile);
    this.db.$client.prepare("update users set profile = ? where id = ?").run(JSON.stringify(clean), userId);
    this.forgetUser(userId);
    return clean;
  }

  private forgetUser(userId: number): void {
    for (const [hash, t] of this.cache) if (t.user.id === userId) this.cache.delete(hash);
  }

  // ---- API tokens ----------------------------------------------------------------------------------------

  /**
   * A named token for the CLI or CI; the secret is returned here only, and stored hashed. `lifetimeMs` null: it
   * never expires.
   */
  createToken(
    userId: number,
    name: string,
    lifetimeMs: number | null = TOKEN_DAYS * DAY,
  ): { id: number; name: string; token: string; expiresAt: string | null } {
    const token = newToken("ss");
    const expiresAt = lifetimeMs === null ? null : this.iso(this.now() + lifetimeMs);
    const r = this.db.$client
      .prepare("insert into api_tokens (user_id, name, token_hash, expires_at) values (?, ?, ?, ?)")
      .run(userId, name, hashToken(token), expiresAt);
    return { id: Number(r.lastInsertRowid), name, token, expiresAt };
  }

  listTokens(userId: number): TokenInfo[] {
    const rows = this.db.$client
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
    const now = this.now();
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

  /** The id of a user, for an admin looking at another user's tokens. */
  userId(username: string): number {
    return this.row(username).id;
  }

  /** Revokes by id (its owner or an admin); the cached user of that token is dropped, so it fails at once. */
  revokeTokenById(caller: Caller, id: number): void {
    const row = this.db.$client
      .prepare("select user_id, name, token_hash, revoked_at from api_tokens where id = ?")
      .get(id) as { user_id: number; name: string; token_hash: string; revoked_at: string | null } | undefined;
    if (!row) throw new SlipError("NOT_FOUND", `token ${id} not found`);
    if (row.user_id !== caller.id && caller.role !== "admin") {
      throw new SlipError("FORBIDDEN", `token ${id} belongs to another user`);
    }
    if (row.revoked_at === null) {
      this.db.$client.prepare("update api_tokens set revoked_at = ? where id = ?").run(this.iso(), id);
    }
    this.cache.delete(row.token_hash);
    this.ended({ tokenHashes: [row.token_hash], reason: `the token '${row.name}' was revoked` });
  }

  private toUser(row: UserRow): AuthedUser {
    return { id: row.id, username: row.username, role: row.role, profile: Profile.parse(JSON.parse(row.profile)) };
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
