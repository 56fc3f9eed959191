import { randomBytes, scryptSync } from "node:crypto";
import type { Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { ADMIN_PASSWORD, PeerCloud, startTestServer, type TestServer } from "../testing/harness.js";
import { addMember, browserSession, connect, loginFrom } from "./team-fixtures.js";

/**
 * The credential lifecycle against the real server: token expiry and last use, disabling users, what a password
 * change or reset revokes, live /ui sockets closed when their credential ends, and stored hashes upgraded on sign-in.
 */

const SYSTEM = "examples/tutorials/service-testing/system";
const DAY = 86_400_000;

let s: TestServer;
const peer = new PeerCloud();
beforeAll(async () => {
  s = await startTestServer({ connectors: new Map([["peer", peer]]) });
});
afterAll(async () => {
  await s.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const userId = (username: string) =>
  (s.app.db.$client.prepare("select id from users where username = ?").get(username) as { id: number }).id;

interface TokenRow {
  id: number;
  name: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsed: string | null;
  revoked: boolean;
  expired: boolean;
}

/** Watches a socket from now on: whether it is closed, and the reason it was given. */
function closing(socket: Socket) {
  let reason: string | null = null;
  socket.once("auth:ended", (m: { reason: string }) => {
    reason = m.reason;
  });
  const gone = new Promise<string>((resolve) => socket.once("disconnect", resolve));
  return {
    /** resolves within `ms`: how the socket was closed and why, or "still connected" */
    async within(ms = 1000) {
      const how = await Promise.race([gone, sleep(ms).then(() => "still connected")]);
      return { how, reason };
    },
  };
}

async function uiSocket(auth: { token?: string; cookie?: string }): Promise<Socket> {
  const r = await connect(s, "/ui", auth);
  if (!r.socket) throw new Error(`/ui refused: ${r.error}`);
  return r.socket;
}

describe("token expiry and last use", () => {
  it("sign-in tokens expire in 90 days; created ones when asked (90 by default), or never", async () => {
    const login = await s.api<{ token: string; expiresAt: string }>(
      "POST",
      "/api/auth/login",
      { username: "admin", password: ADMIN_PASSWORD },
      null,
    );
    expect(Date.parse(login.body.expiresAt) - Date.now()).toBeGreaterThan(89.9 * DAY);
    expect(Date.parse(login.body.expiresAt) - Date.now()).toBeLessThanOrEqual(90 * DAY);
    const dflt = await s.api<{ expiresAt: string }>("POST", "/api/tokens", { name: "default" });
    expect(Math.round((Date.parse(dflt.body.expiresAt) - Date.now()) / DAY)).toBe(90);
    const week = await s.api<{ expiresAt: string }>("POST", "/api/tokens", { name: "week", expiresInDays: 7 });
    expect(Math.round((Date.parse(week.body.expiresAt) - Date.now()) / DAY)).toBe(7);
    const never = await s.api<{ expiresAt: null }>("POST", "/api/tokens", { name: "never", expiresInDays: null });
    expect(never.status).toBe(201);
    expect(never.body.expiresAt).toBeNull();
  });

  it("an expired token is refused with what to do, and listed as expired; one that never expires goes on", async () => {
    const u = await addMember(s, "exa");
    const week = await s.api<{ id: number; token: string }>(
      "POST",
      "/api/tokens",
      { name: "week", expiresInDays: 7 },
      u.token,
    );
    const never = await s.api<{ id: number; token: string }>(
      "POST",
      "/api/tokens",
      { name: "forever", expiresInDays: null },
      u.token,
    );
    expect((await s.api("GET", "/api/me", undefined, week.body.token)).status).toBe(200);
    const auth = s.app.auth;
    const later = Date.now() + 7 * DAY + 1000;
    auth.now = () => later;
    try {
      const refused = await s.api<{ error: { message: string } }>("GET", "/api/me", undefined, week.body.token);
      expect(refused.status).toBe(401);
      expect(refused.body.error.message).toMatch(/^the token expired on .*; run slipstream login again/);
      // the sign-in token expires after 90 days, not 7
      expect((await s.api("GET", "/api/me", undefined, u.token)).status).toBe(200);
      expect((await connect(s, "/ui", { token: week.body.token })).error).toMatch(/^UNAUTHORIZED: the token expired/);
      auth.now = () => Date.now() + 20 * 365 * DAY;
      expect((await s.api("GET", "/api/me", undefined, u.token)).status).toBe(401);
      expect((await s.api("GET", "/api/me", undefined, never.body.token)).status).toBe(200);
      const list = (await s.api<{ tokens: TokenRow[] }>("GET", "/api/tokens", undefined, never.body.token)).body.tokens;
      expect(list.find((t) => t.id === week.body.id)).toMatchObject({ expired: true, revoked: false });
      expect(list.find((t) => t.id === never.body.id)).toMatchObject({ expired: false, expiresAt: null });
    } finally {
      auth.now = () => Date.now();
    }
  });

  it("last use is stored, at most once a minute per token, and listed", async () => {
    const u = await addMember(s, "lou");
    const created = await s.api<{ id: number; token: string }>("POST", "/api/tokens", { name: "ci" }, u.token);
    const stored = () =>
      (
        s.app.db.$client.prepare("select last_used_at as t from api_tokens where id = ?").get(created.body.id) as {
          t: string | null;
        }
      ).t;
    expect(stored()).toBeNull();
    const before = (await s.api<{ tokens: TokenRow[] }>("GET", "/api/tokens", undefined, u.token)).body.tokens;
    expect(before.find((t) => t.id === created.body.id)?.lastUsed).toBeNull();
    await s.api("GET", "/api/me", undefined, created.body.token);
    const first = stored();
    expect(first).not.toBeNull();
    const auth = s.app.auth;
    let now = Date.now() + 30_000;
    auth.now = () => now;
    try {
      for (let i = 0; i < 5; i++) await s.api("GET", "/api/me", undefined, created.body.token);
      expect(stored()).toBe(first);
      now += 31_000;
      await s.api("GET", "/api/me", undefined, created.body.token);
      expect(stored()).toBe(new Date(now).toISOString());
    } finally {
      auth.now = () => Date.now();
    }
    const list = (await s.api<{ tokens: TokenRow[] }>("GET", "/api/tokens", undefined, u.token)).body.tokens;
    expect(list.find((t) => t.id === created.body.id)).toMatchObject({
      name: "ci",
      lastUsed: stored(),
      revoked: false,
      expired: false,
      expiresAt: expect.any(String),
      createdAt: expect.any(String),
    });
  });

  it("an admin lists another user's tokens and revokes one; members list only their own", async () => {
    const u = await addMember(s, "tia");
    const other = await addMember(s, "tom");
    const created = await s.api<{ id: number }>("POST", "/api/tokens", { name: "laptop" }, u.token);
    const seen = await s.api<{ tokens: TokenRow[] }>("GET", "/api/users/tia/tokens");
    expect(seen.status).toBe(200);
    expect(seen.body.tokens.map((t) => t.name)).toEqual(["login", "laptop"]);
    expect((await s.api("GET", "/api/users/tia/tokens", undefined, u.token)).status).toBe(200);
    const refused = await s.api<{ error: { message: string } }>("GET", "/api/users/tia/tokens", undefined, other.token);
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toMatch(/only an admin/);
    expect((await s.api("DELETE", `/api/tokens/${created.body.id}`)).status).toBe(200);
    const after = await s.api<{ tokens: TokenRow[] }>("GET", "/api/users/tia/tokens");
    expect(after.body.tokens.find((t) => t.id === created.body.id)?.revoked).toBe(true);
  });
});

describe("live sockets end with their credential", () => {
  it("a token's socket closes when it is signed out with, and when it expires (a timer, no polling)", async () => {
    const u = await addMember(s, "sol");
    const socket = await uiSocket({ token: u.token });
    const c = closing(socket);
    expect((await s.api("POST", "/api/auth/logout", undefined, u.token)).status).toBe(200);
    expect(await c.within(1000)).toEqual({ how: "io server disconnect", reason: "signed out" });

    const started = performance.now();
    const short = s.app.auth.createToken(userId("sol"), "short-lived", 1500);
    const expiring = await uiSocket({ token: short.token });
    const e = closing(expiring);
    expect(await e.within(3000)).toEqual({
      how: "io server disconnect",
      reason: "the token expired; run slipstream login again",
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(1400);
    expect(performance.now() - started).toBeLessThan(2500);
  });

  it("a browser's socket closes when it signs out, and when its session expires", async () => {
    await addMember(s, "sam");
    const b = await browserSession(s, "sam", "sam-password");
    const socket = await uiSocket({ cookie: b.cookie });
    const c = closing(socket);
    expect((await b.fetch("DELETE", "/api/auth/session")).status).toBe(200);
    expect(await c.within(1000)).toEqual({ how: "io server disconnect", reason: "signed out" });

    const b2 = await browserSession(s, "sam", "sam-password");
    s.app.db.$client
      .prepare("update sessions set expires_at = ? where user_id = ? and revoked_at is null")
      .run(new Date(Date.now() + 1500).toISOString(), userId("sam"));
    const expiring = await uiSocket({ cookie: b2.cookie });
    const e = closing(expiring);
    expect(await e.within(3000)).toEqual({
      how: "io server disconnect",
      reason: "your session expired; sign in again",
    });
    expect((await b2.fetch("GET", "/api/me")).status).toBe(401);
  });

  it("changing one's password signs out one's other browsers; tokens stay unless asked, the caller's always", async () => {
    const u = await addMember(s, "cleo");
    const ci = await s.api<{ id: number; token: string }>("POST", "/api/tokens", { name: "ci" }, u.token);
    const here = await browserSession(s, "cleo", u.password);
    const there = await browserSession(s, "cleo", u.password);
    const hereSocket = await uiSocket({ cookie: here.cookie });
    const thereSocket = await uiSocket({ cookie: there.cookie });
    const ciSocket = await uiSocket({ token: ci.body.token });
    const watched = [hereSocket, thereSocket, ciSocket].map(closing);

    const changed = await here.fetch("PUT", "/api/me/password", {
      currentPassword: u.password,
      newPassword: "cleo-second-pw",
    });
    expect(changed).toEqual({ status: 200, body: { ok: true, revokedSessions: 1, revokedTokens: 0 } });
    expect(await watched[1].within(1000)).toEqual({
      how: "io server disconnect",
      reason: "your password was changed; sign in with the new one",
    });
    await sleep(200);
    expect(hereSocket.connected).toBe(true);
    expect(ciSocket.connected).toBe(true);
    expect((await here.fetch("GET", "/api/me")).status).toBe(200);
    expect((await there.fetch("GET", "/api/me")).status).toBe(401);
    expect((await s.api("GET", "/api/me", undefined, ci.body.token)).status).toBe(200);

    // asked from the CLI's token, with revokeTokens: every other token and the browser go, that token stays
    const again = await s.api(
      "PUT",
      "/api/me/password",
      { currentPassword: "cleo-second-pw", newPassword: "cleo-third-pw", revokeTokens: true },
      u.token,
    );
    expect(again).toEqual({ status: 200, body: { ok: true, revokedSessions: 1, revokedTokens: 1 } });
    expect((await watched[0].within(1000)).how).toBe("io server disconnect");
    expect((await watched[2].within(1000)).how).toBe("io server disconnect");
    expect((await s.api("GET", "/api/me", undefined, ci.body.token)).status).toBe(401);
    expect((await s.api("GET", "/api/me", undefined, u.token)).status).toBe(200);
    for (const sock of [hereSocket, thereSocket, ciSocket]) sock.close();
  });

  it("an admin's password reset closes every socket of that user, token and browser alike", async () => {
    const u = await addMember(s, "rita");
    const b = await browserSession(s, "rita", u.password);
    const sockets = [await uiSocket({ token: u.token }), await uiSocket({ cookie: b.cookie })];
    const watched = sockets.map(closing);
    expect((await s.api("PATCH", "/api/users/rita", { password: "reset-by-admin" })).status).toBe(200);
    for (const w of watched) {
      expect(await w.within(1000)).toEqual({
        how: "io server disconnect",
        reason: "your password was reset by an admin; sign in with the new one",
      });
    }
    expect((await s.api("GET", "/api/me", undefined, u.token)).status).toBe(401);
    expect((await b.fetch("GET", "/api/me")).status).toBe(401);
  });

  it("an admin resetting their own password keeps the credential they did it with", async () => {
    await addMember(s, "ada", "admin");
    const ada = await s.api<{ token: string }>(
      "POST",
      "/api/auth/login",
      { username: "ada", password: "ada-password" },
      null,
    );
    const other = await s.api<{ token: string }>(
      "POST",
      "/api/auth/login",
      { username: "ada", password: "ada-password" },
      null,
    );
    expect((await s.api("PATCH", "/api/users/ada", { password: "ada-new-password" }, ada.body.token)).status).toBe(200);
    expect((await s.api("GET", "/api/me", undefined, ada.body.token)).status).toBe(200);
    expect((await s.api("GET", "/api/me", undefined, other.body.token)).status).toBe(401);
  });
});

describe("disabling users", () => {
  it("a disabled user cannot sign in, nothing of theirs works and their sockets close; enabling restores it", async () => {
    const u = await addMember(s, "dora");
    const ci = await s.api<{ token: string }>("POST", "/api/tokens", { name: "ci" }, u.token);
    const b = await browserSession(s, "dora", u.password);
    const run = (
      await s.api<RunDetail>(
        "POST",
        "/api/runs",
        { module: SYSTEM, clouds: { apache: "peer", client: "peer" } },
        u.token,
      )
    ).body;
    const agentToken = (await peer.launched("apache.1")).token;
    const sockets = [await uiSocket({ token: u.token }), await uiSocket({ cookie: b.cookie })];
    const watched = sockets.map(closing);

    const disabled = await s.api("PATCH", "/api/users/dora", { disabled: true });
    expect(disabled).toMatchObject({ status: 200, body: { username: "dora", disabled: true } });
    for (const w of watched) {
      expect(await w.within(1000)).toEqual({
        how: "io server disconnect",
        reason: "your account was disabled by an admin",
      });
    }
    const refused = await s.api<{ error: { message: string } }>("GET", "/api/me", undefined, ci.body.token);
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toBe("user 'dora' is disabled; an admin can enable it again");
    expect((await s.api("GET", "/api/me", undefined, u.token)).status).toBe(401);
    expect((await b.fetch("GET", "/api/me")).status).toBe(401);
    expect((await connect(s, "/ui", { token: ci.body.token })).error).toMatch(/^UNAUTHORIZED: user 'dora' is disabled/);
    // the right password is told why; a wrong one learns nothing
    const signIn = await s.api<{ error: { message: string } }>(
      "POST",
      "/api/auth/login",
      { username: "dora", password: u.password },
      null,
    );
    expect(signIn.status).toBe(403);
    expect(signIn.body.error.message).toMatch(/user 'dora' is disabled/);
    const wrong = await s.api("POST", "/api/auth/login", { username: "dora", password: "wrong-password" }, null);
    expect(wrong.status).toBe(401);
    const users = await s.api<{ users: { username: string; disabled: boolean }[] }>("GET", "/api/users");
    expect(users.body.users.find((x) => x.username === "dora")?.disabled).toBe(true);
    expect(users.body.users.find((x) => x.username === "admin")?.disabled).toBe(false);
    // her run goes on: its agents hold tokens of their own
    expect(["Done", "Aborted", "Cancelled"]).not.toContain(
      (await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.state,
    );
    const agent = await connect(s, "/agent", { token: agentToken });
    expect(agent.error).toBeNull();
    agent.socket!.close();

    expect(await s.api("PATCH", "/api/users/dora", { disabled: false })).toMatchObject({
      status: 200,
      body: { disabled: false },
    });
    expect((await s.api("GET", "/api/me", undefined, ci.body.token)).status).toBe(200);
    expect((await b.fetch("GET", "/api/me")).status).toBe(200);
    expect((await s.api("POST", "/api/auth/login", { username: "dora", password: u.password }, null)).status).toBe(200);
    await s.api("POST", `/api/runs/${run.id}/terminate`);
  });

  it("only admins disable, never themselves, and the team keeps an enabled admin", async () => {
    const member = await addMember(s, "mel");
    const refused = await s.api("PATCH", "/api/users/admin", { disabled: true }, member.token);
    expect(refused.status).toBe(403);
    const second = await addMember(s, "boss", "admin");
    const users = await s.api<{ users: { username: string; role: string; disabled: boolean }[] }>("GET", "/api/users");
    const others = users.body.users.filter((x) => x.role === "admin" && !x.disabled && x.username !== "boss");
    expect(others.map((x) => x.username)).toContain("admin");
    try {
      // another admin may disable the other ones…
      for (const x of others) {
        expect((await s.api("PATCH", `/api/users/${x.username}`, { disabled: true }, second.token)).status).toBe(200);
      }
      expect((await s.api("GET", "/api/me")).status).toBe(401);
      // …but then cannot step down or disable themselves: no enabled admin would be left
      const demote = await s.api<{ error: { message: string } }>(
        "PATCH",
        "/api/users/boss",
        { role: "member" },
        second.token,
      );
      expect(demote.status).toBe(409);
      expect(demote.body.error.message).toBe("role: 'boss' is the last enabled admin");
      const self = await s.api<{ error: { message: string } }>(
        "PATCH",
        "/api/users/boss",
        { disabled: true },
        second.token,
      );
      expect(self.status).toBe(409);
      expect(self.body.error.message).toBe("disabled: you cannot disable your own account");
    } finally {
      for (const x of others) await s.api("PATCH", `/api/users/${x.username}`, { disabled: false }, second.token);
    }
    expect((await s.api("GET", "/api/me")).status).toBe(200);
  });
});

describe("stored password hashes", () => {
  it("a hash with older scrypt parameters signs in and is replaced by one with N=2^17", async () => {
    await addMember(s, "olga");
    const salt = randomBytes(16);
    const old = scryptSync("olga-old-pw", salt, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
    const legacy = `scrypt$32768$8$1$${salt.toString("base64")}$${old.toString("base64")}`;
    const stored = () =>
      (s.app.db.$client.prepare("select password_hash as h from users where username = 'olga'").get() as { h: string })
        .h;
    s.app.db.$client.prepare("update users set password_hash = ? where username = 'olga'").run(legacy);
    expect((await s.api("POST", "/api/auth/login", { username: "olga", password: "wrong-pw" }, null)).status).toBe(401);
    expect(stored()).toBe(legacy);
    expect((await s.api("POST", "/api/auth/login", { username: "olga", password: "olga-old-pw" }, null)).status).toBe(
      200,
    );
    expect(stored()).toMatch(/^scrypt\$131072\$8\$1\$/);
    expect((await s.api("POST", "/api/auth/login", { username: "olga", password: "olga-old-pw" }, null)).status).toBe(
      200,
    );
  });
});

describe("behind a reverse proxy (TRUST_PROXY=1)", () => {
  let proxied: TestServer;
  beforeAll(async () => {
    process.env.TRUST_PROXY = "1";
    try {
      proxied = await startTestServer();
    } finally {
      delete process.env.TRUST_PROXY;
    }
  });
  afterAll(async () => {
    await proxied.close();
  });

  it("each client is its own address, so one client's failures do not lock the user for everybody", async () => {
    const via = (client: string) => ({ "x-forwarded-for": client });
    for (let i = 0; i < 5; i++) {
      expect((await loginFrom(proxied, "127.0.0.1", "admin", "wrong", via("203.0.113.66"))).status).toBe(401);
    }
    expect((await loginFrom(proxied, "127.0.0.1", "admin", ADMIN_PASSWORD, via("203.0.113.66"))).status).toBe(429);
    expect((await loginFrom(proxied, "127.0.0.1", "admin", ADMIN_PASSWORD, via("198.51.100.7"))).status).toBe(200);
    // what the client wrote in front of the proxy's entry is not believed
    expect(
      (await loginFrom(proxied, "127.0.0.1", "admin", ADMIN_PASSWORD, via("198.51.100.7, 203.0.113.66"))).status,
    ).toBe(429);
  });

  it("without TRUST_PROXY the header is ignored", async () => {
    for (let i = 0; i < 5; i++) {
      expect((await loginFrom(s, "127.0.5.5", "admin", "wrong", { "x-forwarded-for": `192.0.2.${i}` })).status).toBe(
        401,
      );
    }
    expect((await loginFrom(s, "127.0.5.5", "admin", ADMIN_PASSWORD, { "x-forwarded-for": "192.0.2.99" })).status).toBe(
      429,
    );
  });
});
