import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { ADMIN_PASSWORD, PeerCloud, startTestServer, type TestServer } from "../testing/harness.js";
import { addMember, browserSession, connect, emitAck } from "./team-fixtures.js";

const SYSTEM = "examples/tutorials/service-testing/system";
// a real ed25519 public key (ssh-keygen -t ed25519)
const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGyl6tq3ns4r1HQHgaQg56eiTMgpYbvWlT1ex1ZMVBYd alice@laptop";

let s: TestServer;
const peer = new PeerCloud();
beforeAll(async () => {
  s = await startTestServer({ connectors: new Map([["peer", peer]]) });
});
afterAll(async () => {
  await s.close();
});

function counts(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of ["users", "api_tokens", "sessions", "modules", "runs"]) {
    out[t] = (s.app.db.$client.prepare(`select count(*) as n from ${t}`).get() as { n: number }).n;
  }
  return out;
}
const usersRows = () => s.app.db.$client.prepare("select * from users order by id").all();

describe("tokens and sessions", () => {
  it("a token revoked by id stops working at once, even though it was cached", async () => {
    const u = await addMember(s, "tina");
    const created = await s.api<{ id: number; name: string; token: string }>(
      "POST",
      "/api/tokens",
      { name: "ci" },
      u.token,
    );
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: "ci", token: expect.stringMatching(/^ss_/) });
    expect((await s.api("GET", "/api/me", undefined, created.body.token)).status).toBe(200); // now cached
    const list = await s.api<{ tokens: { id: number; name: string; lastUsed: string | null; revoked: boolean }[] }>(
      "GET",
      "/api/tokens",
      undefined,
      u.token,
    );
    expect(list.body.tokens.find((t) => t.id === created.body.id)).toMatchObject({ revoked: false });
    expect(list.body.tokens.find((t) => t.id === created.body.id)?.lastUsed).toBeTruthy();
    expect((await s.api("DELETE", `/api/tokens/${created.body.id}`, undefined, u.token)).status).toBe(200);
    expect((await s.api("GET", "/api/me", undefined, created.body.token)).status).toBe(401);
    const after = await s.api<{ tokens: { id: number; revoked: boolean }[] }>("GET", "/api/tokens", undefined, u.token);
    expect(after.body.tokens.find((t) => t.id === created.body.id)?.revoked).toBe(true);
    // a /ui socket opened with it is refused too
    expect((await connect(s, "/ui", { token: created.body.token })).error).toMatch(/^UNAUTHORIZED/);
  });

  it("a /ui socket whose token is revoked is told so and closed at once", async () => {
    const created = await s.api<{ id: number; token: string }>("POST", "/api/tokens", { name: "watch" });
    const r = await connect(s, "/ui", { token: created.body.token });
    expect((await emitAck<{ ok: boolean }>(r.socket!, "runs:subscribe", {})).ok).toBe(true);
    const ended = new Promise<{ reason: string }>((resolve) => r.socket!.once("auth:ended", resolve));
    const gone = new Promise<string>((resolve) => r.socket!.once("disconnect", resolve));
    await s.api("DELETE", `/api/tokens/${created.body.id}`);
    expect(await gone).toBe("io server disconnect");
    expect((await ended).reason).toBe("the token 'watch' was revoked");
    r.socket!.close();
  });

  it("a session cookie is refused after logout, over REST and on /ui", async () => {
    const b = await browserSession(s, "admin", ADMIN_PASSWORD);
    expect((await b.fetch("GET", "/api/me")).status).toBe(200);
    // state changes need the CSRF header
    expect((await b.fetch("POST", "/api/tokens", { name: "x" }, { csrf: false })).status).toBe(403);
    expect((await b.fetch("DELETE", "/api/auth/session")).status).toBe(200);
    expect((await b.fetch("GET", "/api/me")).status).toBe(401);
    expect((await b.fetch("GET", "/api/auth/session")).status).toBe(401);
    expect((await connect(s, "/ui", { cookie: b.cookie })).error).toMatch(/^UNAUTHORIZED/);
  });

  it("an agent token is refused once its run has ended: socket connect and report upload", async () => {
    const run = (
      await s.api<RunDetail>("POST", "/api/runs", { module: SYSTEM, clouds: { apache: "peer", client: "peer" } })
    ).body;
    const token = (await peer.launched("apache.1")).token;
    const first = await connect(s, "/agent", { token });
    expect(first.error).toBeNull();
    first.socket!.close();
    expect((await s.api<RunDetail>("POST", `/api/runs/${run.id}/terminate`)).status).toBe(200);
    for (let i = 0; i < 100 && !s.app.runs.get(run.id).terminal; i++) await new Promise((r) => setTimeout(r, 20));
    expect(s.app.runs.get(run.id).terminal).toBe(true);
    expect((await connect(s, "/agent", { token })).error).toMatch(/^UNAUTHORIZED/);
    const upload = await fetch(`${s.url}/api/agent/reports?name=apache.1_report_1.tgz`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/gzip" },
      body: Buffer.from("x"),
    });
    expect(upload.status).toBe(401);
  });

  it("no response but the creating one carries a password, a token or a hash", async () => {
    const u = await addMember(s, "petra");
    const created = await s.api<{ token: string }>("POST", "/api/tokens", { name: "ci" }, u.token);
    const b = await browserSession(s, "petra", u.password);
    const hashes = (s.app.db.$client.prepare("select password_hash as h from users").all() as { h: string }[])
      .map((r) => r.h)
      .concat(
        (s.app.db.$client.prepare("select token_hash as h from api_tokens").all() as { h: string }[]).map((r) => r.h),
      );
    const secrets = [u.password, ADMIN_PASSWORD, u.token, created.body.token, s.token, b.cookie.split("=")[1]];
    for (const url of ["/api/users", "/api/tokens", "/api/me", "/api/profile", "/api/auth/session"]) {
      for (const res of [
        await s.api("GET", url, undefined, u.token),
        await s.api("GET", url),
        await b.fetch("GET", url),
      ]) {
        const text = JSON.stringify(res.body);
        for (const secret of [...secrets, ...hashes]) expect(text, url).not.toContain(secret);
        expect(text).not.toMatch(/password|hash/i);
      }
    }
  });
});

describe("bad input on login and user management changes nothing", () => {
  const cases: [string, string, string, unknown, number, RegExp][] = [
    ["login: unknown field", "POST", "/api/auth/login", { username: "a", password: "b", otp: 1 }, 400, /otp/],
    ["login: wrong type", "POST", "/api/auth/login", { username: 5, password: "b" }, 400, /username/],
    [
      "login: oversize password",
      "POST",
      "/api/auth/login",
      { username: "a", password: "x".repeat(1001) },
      400,
      /password/,
    ],
    ["session: missing password", "POST", "/api/auth/session", { username: "a" }, 400, /password/],
    [
      "create: duplicate username",
      "POST",
      "/api/users",
      { username: "admin", displayName: "Again", password: "long-enough" },
      409,
      /username: 'admin' is taken/,
    ],
    [
      "create: bad username",
      "POST",
      "/api/users",
      { username: "Bad Name", displayName: "x", password: "long-enough" },
      400,
      /username/,
    ],
    [
      "create: short password",
      "POST",
      "/api/users",
      { username: "shorty", displayName: "x", password: "short" },
      400,
      /password/,
    ],
    [
      "create: bad role",
      "POST",
      "/api/users",
      { username: "roley", displayName: "x", password: "long-enough", role: "root" },
      400,
      /role/,
    ],
    [
      "create: unknown field",
      "POST",
      "/api/users",
      { username: "extra", displayName: "x", password: "long-enough", admin: true },
      400,
      /admin/,
    ],
    [
      "create: oversize display name",
      "POST",
      "/api/users",
      { username: "big", displayName: "x".repeat(101), password: "long-enough" },
      400,
      /displayName/,
    ],
    ["patch: nothing to change", "PATCH", "/api/users/admin", {}, 400, /at least one/],
    ["patch: unknown field", "PATCH", "/api/users/admin", { username: "root" }, 400, /username/],
    ["patch: unknown user", "PATCH", "/api/users/nobody", { displayName: "x" }, 404, /nobody/],
    ["patch: demote the last admin", "PATCH", "/api/users/admin", { role: "member" }, 409, /last enabled admin/],
    ["patch: disable oneself", "PATCH", "/api/users/admin", { disabled: true }, 409, /own account/],
    ["patch: disabled not a boolean", "PATCH", "/api/users/admin", { disabled: "yes" }, 400, /disabled/],
    [
      "password: wrong current",
      "PUT",
      "/api/me/password",
      { currentPassword: "nope", newPassword: "long-enough" },
      403,
      /currentPassword/,
    ],
    [
      "password: short new",
      "PUT",
      "/api/me/password",
      { currentPassword: ADMIN_PASSWORD, newPassword: "x" },
      400,
      /newPassword/,
    ],
    ["token: empty name", "POST", "/api/tokens", { name: "" }, 400, /name/],
    ["token: expiry too long", "POST", "/api/tokens", { name: "x", expiresInDays: 3651 }, 400, /expiresInDays/],
    ["token: expiry of 0 days", "POST", "/api/tokens", { name: "x", expiresInDays: 0 }, 400, /expiresInDays/],
    ["token: expiry not whole days", "POST", "/api/tokens", { name: "x", expiresInDays: 1.5 }, 400, /expiresInDays/],
    ["token: another user's list", "GET", "/api/users/nobody/tokens", undefined, 404, /nobody/],
    [
      "password: revokeTokens not a boolean",
      "PUT",
      "/api/me/password",
      { currentPassword: ADMIN_PASSWORD, newPassword: "long-enough", revokeTokens: 1 },
      400,
      /revokeTokens/,
    ],
    ["token: bad id", "DELETE", "/api/tokens/abc", undefined, 400, /id/],
    ["token: unknown id", "DELETE", "/api/tokens/999999", undefined, 404, /999999/],
  ];
  for (const [what, method, url, body, status, message] of cases) {
    it(`${what} → ${status}`, async () => {
      const before = { counts: counts(), users: usersRows() };
      const res = await s.api<{ error: { message: string } }>(
        method,
        url,
        body,
        url.startsWith("/api/auth") ? null : undefined,
      );
      expect(res.status).toBe(status);
      expect(res.body.error.message).toMatch(message);
      expect({ counts: counts(), users: usersRows() }).toEqual(before);
    });
  }
});

describe("refusals name their field", () => {
  it("conflicts and a wrong current password carry `fields`, for the forms", async () => {
    const fieldsOf = async (method: string, url: string, body: unknown) =>
      (await s.api<{ error: { fields?: Record<string, string> } }>(method, url, body)).body.error.fields;
    expect(
      await fieldsOf("POST", "/api/users", { username: "admin", displayName: "Again", password: "long-enough" }),
    ).toEqual({ username: "'admin' is taken" });
    expect(await fieldsOf("PATCH", "/api/users/admin", { role: "member" })).toEqual({
      role: "'admin' is the last enabled admin",
    });
    expect(await fieldsOf("PATCH", "/api/users/admin", { disabled: true })).toEqual({
      disabled: "you cannot disable your own account",
    });
    expect(await fieldsOf("PUT", "/api/me/password", { currentPassword: "nope", newPassword: "long-enough" })).toEqual({
      currentPassword: "does not match your current password",
    });
  });
});

describe("user management", () => {
  it("an admin renames, promotes and resets a password; the user changes their own", async () => {
    const u = await addMember(s, "mara");
    const patched = await s.api("PATCH", "/api/users/mara", { displayName: "Mara M.", role: "admin" });
    expect(patched).toMatchObject({ status: 200, body: { username: "mara", displayName: "Mara M.", role: "admin" } });
    // the role change reaches the cached user of her token at once
    expect((await s.api<{ role: string }>("GET", "/api/me", undefined, u.token)).body.role).toBe("admin");
    const browser = await browserSession(s, "mara", u.password);
    expect((await browser.fetch("GET", "/api/me")).status).toBe(200);
    expect((await s.api("PATCH", "/api/users/mara", { password: "reset-by-admin", role: "member" })).status).toBe(200);
    // a reset means a suspected leak: her browsers are signed out and her API tokens revoked
    expect((await browser.fetch("GET", "/api/me")).status).toBe(401);
    expect((await s.api("GET", "/api/me", undefined, u.token)).status).toBe(401);
    expect((await s.api("POST", "/api/auth/login", { username: "mara", password: u.password }, null)).status).toBe(401);
    const again = await s.api<{ token: string }>(
      "POST",
      "/api/auth/login",
      { username: "mara", password: "reset-by-admin" },
      null,
    );
    expect(again.status).toBe(200);
    const change = await s.api(
      "PUT",
      "/api/me/password",
      { currentPassword: "reset-by-admin", newPassword: "chosen-by-mara" },
      again.body.token,
    );
    expect(change.status).toBe(200);
    expect(
      (await s.api("POST", "/api/auth/login", { username: "mara", password: "chosen-by-mara" }, null)).status,
    ).toBe(200);
    const users = await s.api<{ users: { username: string; displayName: string }[] }>("GET", "/api/users");
    expect(users.body.users.find((x) => x.username === "mara")?.displayName).toBe("Mara M.");
  });
});

describe("failed sign-in throttling", () => {
  it("the 6th wrong password in 15 minutes is a 429; another user, or the same after the window, works", async () => {
    const u = await addMember(s, "theo");
    const throttle = s.app.auth.throttle;
    let now = Date.now();
    throttle.now = () => now;
    try {
      for (let i = 0; i < 5; i++) {
        expect((await s.api("POST", "/api/auth/login", { username: "theo", password: "wrong" }, null)).status).toBe(
          401,
        );
      }
      const sixth = await s.api<{ error: { code: string } }>(
        "POST",
        "/api/auth/login",
        { username: "theo", password: "wrong" },
        null,
      );
      expect(sixth.status).toBe(429);
      expect(sixth.body.error.code).toBe("TOO_MANY_REQUESTS");
      // even the right password waits, and the browser sign-in too
      expect((await s.api("POST", "/api/auth/login", { username: "theo", password: u.password }, null)).status).toBe(
        429,
      );
      expect((await s.api("POST", "/api/auth/session", { username: "theo", password: u.password }, null)).status).toBe(
        429,
      );
      // another user is not affected
      expect(
        (await s.api("POST", "/api/auth/login", { username: "admin", password: ADMIN_PASSWORD }, null)).status,
      ).toBe(200);
      now += 15 * 60_000 + 1;
      expect((await s.api("POST", "/api/auth/login", { username: "theo", password: u.password }, null)).status).toBe(
        200,
      );
    } finally {
      throttle.now = () => Date.now();
    }
  });
});

describe("failed sign-in throttling under concurrency", () => {
  it("of 20 simultaneous wrong passwords at most 5 are checked, the rest are 429; then the right one is 429 too", async () => {
    const u = await addMember(s, "conny");
    const login = (username: string, password: string) =>
      s.api<{ error?: { code: string } }>("POST", "/api/auth/login", { username, password }, null);
    const results = await Promise.all(Array.from({ length: 20 }, () => login("conny", "wrong")));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((x) => x === 401).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((x) => x === 429).length).toBeGreaterThanOrEqual(15);
    expect(statuses.every((x) => x === 401 || x === 429)).toBe(true);
    expect(results.find((r) => r.status === 429)?.body.error?.code).toBe("TOO_MANY_REQUESTS");
    // the right password right after is refused for this address, over the API and the browser sign-in
    expect((await login("conny", u.password)).status).toBe(429);
    expect((await s.api("POST", "/api/auth/session", { username: "conny", password: u.password }, null)).status).toBe(
      429,
    );
    // another username is not affected
    expect((await login("admin", ADMIN_PASSWORD)).status).toBe(200);
  });
});

describe("profile", () => {
  it("is validated naming the field, and nothing changes on a bad one", async () => {
    const u = await addMember(s, "pia");
    const good = { sshKeys: [ED25519], keepRunning: "always", defaultCloud: "peer", runTimeoutMinutes: 30 };
    const bad: [unknown, RegExp][] = [
      [{ ...good, sshKeys: [ED25519, "ssh-dss AAAAB3NzaC1kc3M= x"] }, /sshKeys\[1\]: unknown key type 'ssh-dss'/],
      [{ ...good, sshKeys: ["ssh-ed25519 not-base64!"] }, /sshKeys\[0\]: key body is not base64/],
      [
        { ...good, sshKeys: [ED25519.replace("ssh-ed25519", "ssh-rsa")] },
        /sshKeys\[0\]: .*'ssh-ed25519' key, not 'ssh-rsa'/,
      ],
      [{ ...good, sshKeys: ["ssh-ed25519"] }, /sshKeys\[0\]/],
      [{ ...good, defaultCloud: "mars" }, /defaultCloud: unknown cloud 'mars'/],
      [{ ...good, keepRunning: "sometimes" }, /keepRunning/],
      [{ ...good, runTimeoutMinutes: 0 }, /runTimeoutMinutes/],
      [{ ...good, colour: "red" }, /colour/],
    ];
    for (const [body, message] of bad) {
      const before = usersRows();
      const res = await s.api<{ error: { message: string } }>("PUT", "/api/profile", body, u.token);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.message).toMatch(message);
      expect(usersRows()).toEqual(before);
    }
    const ok = await s.api<{ profile: typeof good }>("PUT", "/api/profile", good, u.token);
    expect(ok.status).toBe(200);
    expect(ok.body.profile).toEqual({ ...good, lostAfterSeconds: 60, stuckRunAbortSeconds: 0, keptRunMaxHours: 24 });
  });

  it("a change applies to the next run at once (the cached user is refreshed), not to existing ones", async () => {
    const u = await addMember(s, "rolf");
    const body = { module: SYSTEM, clouds: { apache: "peer", client: "peer" } };
    const first = (await s.api<RunDetail>("POST", "/api/runs", body, u.token)).body;
    expect(first.keepRunning).toBe("on-success");
    const put = await s.api(
      "PUT",
      "/api/profile",
      { sshKeys: [], keepRunning: "on-error", defaultCloud: "peer", runTimeoutMinutes: 5 },
      u.token,
    );
    expect(put.status).toBe(200);
    const second = (await s.api<RunDetail>("POST", "/api/runs", { module: SYSTEM }, u.token)).body;
    expect(second.keepRunning).toBe("on-error");
    expect(second.nodes.map((n) => n.cloud)).toEqual(["peer", "peer"]);
    const minutes = (Date.parse(second.deadline!) - Date.now()) / 60_000;
    expect(minutes).toBeGreaterThan(4);
    expect(minutes).toBeLessThanOrEqual(5);
    expect((await s.api<RunDetail>("GET", `/api/runs/${first.id}`)).body.keepRunning).toBe("on-success");
  });
});
