import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestConnectionResult } from "../../protocol/catalog/clouds.js";
import { addMember } from "../http/team-fixtures.js";
import { startTestServer, type TestServer } from "../testing/harness.js";
import { assertOwnRoute, createTestHosts, netnsUnavailable, type TestHosts } from "../testing/netns.js";

const exec = promisify(execFile);
const unavailable = await netnsUnavailable();
if (unavailable && process.env.CI === "true") throw new Error(`ssh tests cannot run in CI: ${unavailable}`);

/** A second sshd in the host's namespace that takes passwords (the first one takes keys only). */
const PASSWORD_PORT = 2222;
/** Nothing listens there: a closed port. */
const CLOSED_PORT = 2200;
const PASSWORD = "test-connection-password";

let hosts: TestHosts;
let s: TestServer;
let memberToken: string;
let fingerprint: string;
let passwordSshd: ChildProcess | null = null;
const bridge = () => `ssb${process.pid}`;

function listening(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: address, port });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => {
      sock.destroy();
      resolve(false);
    });
  });
}

async function test(body: Record<string, unknown>, token?: string) {
  // only ever an address of the namespace this test made, reached through its own bridge
  await assertOwnRoute(String(body.address), bridge());
  const started = Date.now();
  const res = await s.api<TestConnectionResult>("POST", "/api/clouds/test-connection", body, token);
  return { ...res, ms: Date.now() - started };
}

describe.skipIf(unavailable !== null)(
  `POST /api/clouds/test-connection against a real sshd${unavailable ? ` (skipped: ${unavailable})` : ""}`,
  () => {
    const key = () => ({
      address: hosts.hosts[0].address,
      port: 22,
      username: hosts.user,
      privateKey: hosts.clientKey,
    });

    beforeAll(async () => {
      hosts = await createTestHosts(["t"]);
      const dir = path.dirname(hosts.home);
      // what an admin reads on the host: ssh-keygen -lf on its host key
      fingerprint = (await exec("ssh-keygen", ["-lf", `${dir}/host.pub`])).stdout.split(" ")[1];
      expect(fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
      // the test user gets a password, and a second sshd in its namespace accepts passwords
      const chpasswd = spawn("chpasswd", [], { stdio: ["pipe", "ignore", "inherit"] });
      chpasswd.stdin?.end(`${hosts.user}:${PASSWORD}\n`);
      await new Promise((resolve) => chpasswd.once("exit", resolve));
      const h = hosts.hosts[0];
      const conf = path.join(dir, "sshd-password.conf");
      await fs.writeFile(
        conf,
        [
          `ListenAddress ${h.address}:${PASSWORD_PORT}`,
          `HostKey ${dir}/host`,
          `PidFile ${dir}/sshd-password.pid`,
          "PasswordAuthentication yes",
          "PubkeyAuthentication no",
          "KbdInteractiveAuthentication no",
          "UsePAM no",
          `AllowUsers ${hosts.user}`,
          "LogLevel ERROR",
          "",
        ].join("\n"),
      );
      passwordSshd = spawn("ip", ["netns", "exec", h.ns, "/usr/sbin/sshd", "-D", "-e", "-f", conf], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      passwordSshd.stderr?.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      for (let i = 0; !(await listening(h.address, PASSWORD_PORT)); i++) {
        if (i > 100 || passwordSshd.exitCode !== null) throw new Error(`the password sshd did not start: ${stderr}`);
        await sleep(50);
      }
      s = await startTestServer();
      memberToken = (await addMember(s, "mia")).token;
    }, 60_000);

    afterAll(async () => {
      if (passwordSshd && passwordSshd.exitCode === null) {
        const gone = new Promise((r) => passwordSshd?.once("exit", r));
        passwordSshd.kill("SIGTERM");
        await gone;
      }
      await s?.close();
      await hosts?.cleanup();
    }, 60_000);

    it("the right fingerprint: connected, logged in, matched; without one it answers the host's", async () => {
      const right = await test({ ...key(), hostKeySha256: fingerprint });
      expect(right.status, JSON.stringify(right.body)).toBe(200);
      expect(right.body).toEqual({
        ok: true,
        fingerprint,
        hostKeyMatches: true,
        authenticated: true,
        error: null,
      });
      const none = await test(key());
      expect(none.body).toEqual({ ok: true, fingerprint, hostKeyMatches: null, authenticated: true, error: null });
    });

    it("a wrong given fingerprint: refused before any credential is sent, with the key the host presented", async () => {
      const wrong = `SHA256:${"A".repeat(43)}`;
      const res = await test({ ...key(), hostKeySha256: wrong });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ ok: false, fingerprint, hostKeyMatches: false, authenticated: false });
      expect(res.body.error).toContain(`presented ${fingerprint}, not the given ${wrong}`);
    });

    it("a password: the right one logs in, a wrong one is 'authentication failed', the key is still shown", async () => {
      const pw = { address: hosts.hosts[0].address, port: PASSWORD_PORT, username: hosts.user };
      const ok = await test({ ...pw, password: PASSWORD, hostKeySha256: fingerprint });
      expect(ok.body).toEqual({ ok: true, fingerprint, hostKeyMatches: true, authenticated: true, error: null });
      const bad = await test({ ...pw, password: "not-the-password" });
      expect(bad.body).toMatchObject({ ok: false, fingerprint, hostKeyMatches: null, authenticated: false });
      expect(bad.body.error).toMatch(/authentication failed for user/);
      expect(JSON.stringify(bad.body)).not.toContain("not-the-password");
    });

    it("a closed port: 'connection refused', no key", async () => {
      expect(await listening(hosts.hosts[0].address, CLOSED_PORT)).toBe(false);
      const res = await test({ ...key(), port: CLOSED_PORT });
      expect(res.body).toMatchObject({ ok: false, fingerprint: null, hostKeyMatches: null, authenticated: false });
      expect(res.body.error).toMatch(/connection refused/);
    });

    it("a host that does not answer: a clear error within 10 s", async () => {
      await hosts.hosts[0].setLink(false);
      try {
        const res = await test(key());
        expect(res.body).toMatchObject({ ok: false, fingerprint: null, authenticated: false });
        expect(res.body.error).toMatch(/timed out|unreachable/);
        expect(res.ms).toBeLessThan(10_500);
      } finally {
        await hosts.hosts[0].setLink(true);
      }
    }, 20_000);

    it("admins only; the body is validated with the cloud's host rules", async () => {
      const member = await test(key(), memberToken);
      expect(member.status).toBe(403);
      const bad = await s.api<{ error: { fields?: Record<string, string> } }>("POST", "/api/clouds/test-connection", {
        address: "a b",
        port: 0,
        username: "u",
      });
      expect(bad.status).toBe(400);
      expect(Object.keys(bad.body.error.fields ?? {})).toEqual(expect.arrayContaining(["address", "port"]));
    });
  },
);
