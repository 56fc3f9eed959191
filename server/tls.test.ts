import { type ChildProcess, execFile, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import fs from "node:fs/promises";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { promisify } from "node:util";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadReport } from "../agent/report.js";
import { type CliEnv, cli, tempDir } from "../cli/testing.js";
import { type RunningServer, startServer } from "./app.js";
import { ADMIN_PASSWORD } from "./testing/harness.js";

/**
 * security.md F12: TLS_CERT/TLS_KEY serve HTTPS and WSS on the one port; agents accept only the certificate whose
 * fingerprint they were given; the CLI trusts a private certificate through NODE_EXTRA_CA_CERTS.
 */
const exec = promisify(execFile);
let dir: string;
let server: RunningServer;
let cert: { file: string; pem: string; sha256: string };
/** another certificate for the same names: a machine in the middle */
let other: { cert: string; key: string; sha256: string };
let token: string;
const children: ChildProcess[] = [];

async function selfSigned(name: string): Promise<{ certFile: string; keyFile: string; pem: string; key: string }> {
  const certFile = path.join(dir, `${name}.pem`);
  const keyFile = path.join(dir, `${name}.key`);
  await exec("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
    "-days",
    "2",
    "-keyout",
    keyFile,
    "-out",
    certFile,
  ]);
  return { certFile, keyFile, pem: await fs.readFile(certFile, "utf8"), key: await fs.readFile(keyFile, "utf8") };
}

/** One JSON request over HTTPS trusting only the test's certificate. */
function api<T>(
  method: string,
  p: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: T }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${server.url}${p}`,
      {
        method,
        ca: cert.pem,
        headers: {
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...headers,
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed as T });
        });
      },
    );
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-tls-"));
  const mine = await selfSigned("server");
  const theirs = await selfSigned("other");
  cert = { file: mine.certFile, pem: mine.pem, sha256: new X509Certificate(mine.pem).fingerprint256 };
  other = { cert: theirs.pem, key: theirs.key, sha256: new X509Certificate(theirs.pem).fingerprint256 };
  server = await startServer({
    port: 0,
    host: "127.0.0.1",
    dataDir: path.join(dir, "data"),
    adminPassword: ADMIN_PASSWORD,
    ui: false,
    log: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    killGraceSeconds: 2,
    tls: { cert: mine.pem, key: mine.key },
  });
  const login = await api<{ token: string }>("POST", "/api/auth/login", {
    username: "admin",
    password: ADMIN_PASSWORD,
  });
  token = login.body.token;
}, 60_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await server?.close({ stopInstances: true });
  await fs.rm(dir, { recursive: true, force: true });
});

describe("the server on TLS", () => {
  it("serves https with HSTS and a Secure session cookie, and says the certificate's fingerprint", async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(server.certSha256).toBe(cert.sha256);
    const health = await api("GET", "/api/health");
    expect(health.status).toBe(200);
    expect(health.headers["strict-transport-security"]).toBe("max-age=31536000");
    const session = await api("POST", "/api/auth/session", { username: "admin", password: ADMIN_PASSWORD });
    expect(String(session.headers["set-cookie"])).toMatch(/; Secure$/);
  });

  it("gives plain HTTP on its port no data", async () => {
    const { port } = new URL(server.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const s = net.connect(Number(port), "127.0.0.1", () =>
        s.write(`GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n\r\n`),
      );
      let got = "";
      s.on("data", (d) => {
        got += d.toString("latin1");
      });
      s.setTimeout(3000, () => s.destroy());
      s.on("close", () => resolve(got));
      s.on("error", reject);
    });
    expect(answer).not.toContain("HTTP/1.1 200");
    expect(answer).not.toContain('"ok"');
  });

  it("runs on the local cloud end to end: agents pin the certificate, the CLI follows over WSS and downloads the reports", async () => {
    const yaml = [
      "kind: image",
      "parameters:",
      "  - { name: greeting, category: output }",
      "targets:",
      "  execute: |",
      "    #!/bin/sh",
      '    ss-set greeting "hello over tls"',
      "  report: |",
      "    #!/bin/sh",
      "    echo report > $SLIPSTREAM_REPORT_DIR/report.txt",
      "",
    ].join("\n");
    const imported = await api("POST", "/api/modules/import", { files: [{ path: "t/tls", yaml }] });
    expect(imported.status, JSON.stringify(imported.body)).toBe(200);
    const env: CliEnv = {
      url: server.url,
      configDir: await tempDir("tls-cfg"),
      token,
      extra: { NODE_EXTRA_CA_CERTS: cert.file },
    };
    const out = await tempDir("tls-reports");
    const res = await cli(["run", "t/tls", "--keep-running", "never", "--wait", "--reports", out], env);
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    expect(res.stdout).toMatch(/\] Done\n/);
    const runId = /^Run (\S+) /m.exec(res.stdout)?.[1] as string;
    const params = await api<{ params: { key: string; value: string | null }[] }>("GET", `/api/runs/${runId}/params`);
    expect(params.body.params.find((p) => p.key === "machine.1:greeting")?.value).toBe("hello over tls");
    // the agent's report came over the pinned connection, and the CLI unpacked it
    const unpacked = await fs.readdir(path.join(out, runId), { recursive: true });
    expect(
      unpacked.some((f) => f.endsWith("report.txt")),
      unpacked.join(", "),
    ).toBe(true);
  }, 120_000);

  it("the CLI refuses a certificate it does not trust, and says how to trust it", async () => {
    const res = await cli(["runs"], { url: server.url, configDir: await tempDir("tls-cfg"), token });
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/presented a TLS certificate this machine does not trust \(\w+\).*NODE_EXTRA_CA_CERTS/);
  });
});

describe("an agent pinned to the server's certificate, facing another one", () => {
  /** A TLS server with the other certificate: counts connections and the application bytes it receives. */
  async function middleman(): Promise<{ url: string; dialled: () => number; bytes: () => number; close(): void }> {
    let dialled = 0;
    let bytes = 0;
    const srv = tls.createServer({ cert: other.cert, key: other.key }, (sock) => {
      sock.on("data", (d: Buffer) => {
        bytes += d.length;
      });
      sock.on("error", () => undefined);
    });
    srv.on("connection", () => {
      dialled++;
    });
    // the client hangs up as soon as it has seen the certificate, often before this side's handshake ends
    srv.on("tlsClientError", () => undefined);
    await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
    return {
      url: `https://127.0.0.1:${(srv.address() as net.AddressInfo).port}`,
      dialled: () => dialled,
      bytes: () => bytes,
      close: () => srv.close(),
    };
  }

  it("the real agent refuses to connect and says why; the other server receives nothing, not even the upgrade", async () => {
    const mitm = await middleman();
    try {
      const ws = await fs.mkdtemp(path.join(dir, "ws-"));
      const agentEnv: Record<string, string> = {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: ws,
        SLIPSTREAM_SERVICEURL: mitm.url,
        SLIPSTREAM_SERVER_CERT_SHA256: cert.sha256,
        SLIPSTREAM_AGENT_TOKEN: "agent-token-0123456789",
        SLIPSTREAM_DIID: "run-tls",
        SLIPSTREAM_NODE_INSTANCE_NAME: "machine.1",
        SLIPSTREAM_CLOUD: "test",
        SLIPSTREAM_WORKSPACE: ws,
      };
      const agent = spawn(process.execPath, [path.join(server.app.dataDir, "agent", "agent.mjs")], {
        env: agentEnv as NodeJS.ProcessEnv,
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.push(agent);
      let output = "";
      await new Promise<void>((resolve, reject) => {
        const check = (d: Buffer) => {
          output += d.toString();
          // twice: the agent tried again (socket.io retries a failed transport)
          if (/not the pinned[\s\S]*not the pinned/.test(output)) resolve();
        };
        agent.stdout?.on("data", check);
        agent.stderr?.on("data", check);
        agent.once("exit", (code) => reject(new Error(`agent exited ${code}: ${output}`)));
      });
      expect(output).toContain(
        `presented a TLS certificate with SHA-256 fingerprint ${other.sha256}, not the pinned ${cert.sha256}: refusing to connect`,
      );
      // in the instance log too, where the person debugging the machine looks: once, not at every retry
      const log = await fs.readFile(path.join(ws, "slipstream.log"), "utf8");
      expect(log.match(/not the pinned/g)).toHaveLength(1);
      expect(mitm.dialled()).toBeGreaterThan(0);
      expect(mitm.bytes()).toBe(0);
      agent.kill("SIGKILL");
    } finally {
      mitm.close();
    }
  }, 60_000);

  it("a report upload never sends its token to the other server", async () => {
    const mitm = await middleman();
    try {
      const file = path.join(dir, "r.tgz");
      await fs.writeFile(file, "not really a tarball");
      const error = await uploadReport(
        { serviceUrl: mitm.url, token: "agent-token-0123456789", serverCertSha256: cert.sha256 },
        file,
        "machine.1_report_x.tgz",
        { firstMs: 10, maxMs: 10, totalMs: 50 },
      );
      expect(error).toContain(`not the pinned ${cert.sha256}`);
      expect(mitm.dialled()).toBeGreaterThan(0);
      expect(mitm.bytes()).toBe(0);
      // the right pin against the real server: accepted (401 for a token no run has: it got through TLS)
      const through = await uploadReport(
        { serviceUrl: server.url, token: "agent-token-0123456789", serverCertSha256: cert.sha256 },
        file,
        "machine.1_report_x.tgz",
        { firstMs: 10, maxMs: 10, totalMs: 50 },
      );
      expect(through).toMatch(/^HTTP 401/);
    } finally {
      mitm.close();
    }
  });
});
