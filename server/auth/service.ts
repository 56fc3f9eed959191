import type { z } from "zod";
import type { TokenInfo, UserInfo } from "../../protocol/catalog/users.js";
import type { Bus } from "../bus.js";
import type { Db } from "../db/open.js";
import type { Caller } from "../modules/service.js";
import { ApiTokens } from "./api-tokens.js";
import { type AuthContext, announceEnded, type Check, type Credential, type Signed } from "./credentials.js";
import { HashingGate } from "./passwords.js";
import { type AuthedUser, type Profile, toAuthedUser, updateProfile } from "./profile.js";
import { Sessions } from "./sessions.js";
import { verifyCredentials } from "./sign-in.js";
import { LoginThrottle } from "./throttle.js";
import { Users } from "./users.js";

export type { Check, Credential, Signed } from "./credentials.js";
export { type AuthedUser, Profile } from "./profile.js";

/**
 * Users, bearer tokens and browser sessions. Every API call and socket resolves its caller here, and every way a
 * credential ends (revoked, signed out, password reset or changed, user disabled) is announced on the bus so that
 * live sockets holding it are closed at once. The work is done by its parts: `Users` (users.ts), `ApiTokens`
 * (api-tokens.ts), `Sessions` (sessions.ts), the throttled password check (sign-in.ts) and the profile (profile.ts).
 */
export class AuthService {
  readonly throttle = new LoginThrottle();
  /** one per process: scrypt shares libuv's thread pool with every file operation */
  readonly hashing = new HashingGate();
  /** the clock for expiry and last use; tests move it */
  now: () => number = () => Date.now();
  private readonly ctx: AuthContext;
  private readonly users: Users;
  private readonly tokens: ApiTokens;
  private readonly sessions: Sessions;
  private readonly gates: { throttle: LoginThrottle; hashing: HashingGate };

  constructor(db: Db, bus?: Bus) {
    this.ctx = {
      db,
      now: () => this.now(),
      iso: (ms = this.now()) => new Date(ms).toISOString(),
      ended: (end) => announceEnded(bus, end),
    };
    this.gates = { throttle: this.throttle, hashing: this.hashing };
    this.tokens = new ApiTokens(this.ctx);
    this.sessions = new Sessions(this.ctx);
    this.users = new Users(this.ctx, this.gates, this.tokens);
  }

  // ---- users ---------------------------------------------------------------------------------------------

  /** Creates `admin` on first start; returns the generated password when none was given (printed once). */
  ensureAdmin(password: string | undefined): Promise<{ created: boolean; generated: string | null }> {
    return this.users.ensureAdmin(password);
  }

  createUser(username: string, displayName: string, role: "admin" | "member", password: string): Promise<number> {
    return this.users.create(username, displayName, role, password);
  }

  listUsers(): UserInfo[] {
    return this.users.list();
  }

  userInfo(username: string): UserInfo {
    return this.users.info(username);
  }

  /** The id of a user, for an admin looking at another user's tokens. */
  userId(username: string): number {
    return this.users.row(username).id;
  }

  /** Admin: display name, role, password reset, disabling (see Users.update). */
  updateUser(
    caller: Caller,
    username: string,
    change: { displayName?: string; role?: "admin" | "member"; password?: string; disabled?: boolean },
    keep?: Credential,
  ): Promise<UserInfo> {
    return this.users.update(caller, username, change, keep);
  }

  /** A user changing their own password, giving the current one (see Users.changePassword). */
  changePassword(
    userId: number,
    current: string,
    next: string,
    opts: { keep?: Credential; revokeTokens?: boolean; ip?: string } = {},
  ): Promise<{ revokedSessions: number; revokedTokens: number }> {
    return this.users.changePassword(userId, current, next, opts);
  }

  /** Stores a validated profile; cached users are dropped so the next run uses the new defaults. */
  updateProfile(userId: number, profile: z.input<typeof Profile>): Profile {
    return updateProfile(this.ctx, userId, profile, (id) => this.tokens.forgetUser(id));
  }

  // ---- signing in ----------------------------------------------------------------------------------------

  /** `slipstream login`: a password checked (throttled, see sign-in.ts) for a bearer token of TOKEN_DAYS. */
  async login(
    username: string,
    password: string,
    tokenName = "login",
    ip = "unknown",
  ): Promise<{ token: string; expiresAt: string; user: AuthedUser }> {
    const row = await verifyCredentials(this.ctx, this.gates, username, password, ip);
    const { token, expiresAt } = this.tokens.create(row.id, tokenName);
    return { token, expiresAt: expiresAt as string, user: toAuthedUser(row) };
  }

  /** A browser session: the cookie secret and the CSRF token the page must echo on state-changing requests. */
  async createSession(
    username: string,
    password: string,
    ip = "unknown",
  ): Promise<{ token: string; csrfToken: string; user: AuthedUser }> {
    const row = await verifyCredentials(this.ctx, this.gates, username, password, ip);
    return { ...this.sessions.create(row), user: toAuthedUser(row) };
  }

  // ---- credentials ---------------------------------------------------------------------------------------

  /** A bearer token: its user, or why it is refused. */
  checkToken(token: string): Check {
    return this.tokens.check(token);
  }

  /** A browser session that works (not revoked, not expired, its user not disabled), or null. */
  session(token: string | undefined): ({ csrfToken: string } & Signed) | null {
    return this.sessions.find(token);
  }

  /** Signing out of a browser. */
  revokeSession(token: string): void {
    this.sessions.revoke(token);
  }

  /** Signing out with a bearer token (`POST /api/auth/logout`): the token ends. */
  revoke(token: string): void {
    this.tokens.revoke(token);
  }

  /**
   * A named token for the CLI or CI; the secret is returned here only, and stored hashed. `lifetimeMs` null: it
   * never expires (default: TOKEN_DAYS).
   */
  createToken(
    userId: number,
    name: string,
    lifetimeMs?: number | null,
  ): { id: number; name: string; token: string; expiresAt: string | null } {
    return this.tokens.create(userId, name, lifetimeMs);
  }

  listTokens(userId: number): TokenInfo[] {
    return this.tokens.list(userId);
  }

  /** Revokes by id (its owner or an admin); the cached user of that token is dropped, so it fails at once. */
  revokeTokenById(caller: Caller, id: number): void {
    this.tokens.revokeById(caller, id);
  }
}
