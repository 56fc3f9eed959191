import { z } from "zod";
import { SlipError } from "../../protocol/errors.js";
import { KeepRunning } from "../../protocol/run.js";
import type { Db } from "../db/open.js";
import type { Caller } from "../modules/service.js";
import { generatePassword, hashPassword, verifyPassword } from "./passwords.js";
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
  role: "admin" | "member";
  password_hash: string;
  profile: string;
}

/** Users and bearer tokens. Every API call and socket resolves its caller here. */
export class AuthService {
  private readonly cache = new Map<string, AuthedUser>();

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

  async login(username: string, password: string, tokenName = "login"): Promise<{ token: string; user: AuthedUser }> {
    const row = this.db.$client.prepare("select * from users where username = ?").get(username) as UserRow | undefined;
    // verify against a dummy hash for unknown users too, so timing does not reveal which usernames exist
    const ok = await verifyPassword(password, row?.password_hash ?? DUMMY_HASH);
    if (!row || !ok) throw new SlipError("UNAUTHORIZED", "wrong username or password");
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
    if (cached) return cached;
    const row = this.db.$client
      .prepare(
        "select users.* from api_tokens join users on users.id = api_tokens.user_id where token_hash = ? and revoked_at is null",
      )
      .get(hash) as UserRow | undefined;
    if (!row) return null;
    const user = this.toUser(row);
    this.cache.set(hash, user);
    return user;
  }

  /** A browser session: the cookie secret and the CSRF token the page must echo on state-changing requests. */
  async createSession(
    username: string,
    password: string,
  ): Promise<{ token: string; csrfToken: string; user: AuthedUser }> {
    const row = this.db.$client.prepare("select * from users where username = ?").get(username) as UserRow | undefined;
    const ok = await verifyPassword(password, row?.password_hash ?? DUMMY_HASH);
    if (!row || !ok) throw new SlipError("UNAUTHORIZED", "wrong username or password");
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

  private toUser(row: UserRow): AuthedUser {
    return { id: row.id, username: row.username, role: row.role, profile: Profile.parse(JSON.parse(row.profile)) };
  }
}

const SESSION_DAYS = 7;

const DUMMY_HASH = "scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
