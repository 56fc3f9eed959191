import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDataDirs } from "./testing/data-dirs.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "ss-main-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** `npm start`'s server process, as a user runs it (without the UI, which is not what these refusals are about). */
function start(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", "server/main.ts", "--no-ui"], {
      cwd: ROOT,
      env: { ...process.env, HOST: "127.0.0.1", LOG_LEVEL: "warn", ...env },
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    child.on("exit", (code) => resolve({ code, out }));
  });
}

describe("npm start refuses to start", () => {
  it("when the port is taken: a clear message, and nothing written (no admin created, no password printed)", async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as net.AddressInfo).port;
    const dataDir = path.join(dir, "port");
    try {
      const r = await start({ PORT: String(port), DATA_DIR: dataDir });
      expect(r.code).toBe(1);
      expect(r.out).toContain(`port ${port} is already in use; stop the other server or set PORT`);
      expect(r.out).not.toContain("password");
      expect(existsSync(path.join(dataDir, "slipstream.db"))).toBe(false);
    } finally {
      taken.close();
    }
  }, 60_000);

  it("when the data directory is not writable: a clear message naming it", async () => {
    const file = path.join(dir, "not-a-dir");
    await writeFile(file, "x");
    const r = await start({ PORT: "0", DATA_DIR: path.join(file, "data") });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/data directory .*not-a-dir\/data.* is not writable.*set DATA_DIR/);
  }, 60_000);

  it("when the TLS settings are incomplete or unusable: a message naming the variable, nothing written", async () => {
    const dataDir = path.join(dir, "tls");
    const pem = path.join(dir, "not-a-cert.pem");
    await writeFile(pem, "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n");
    const half = await start({ PORT: "0", DATA_DIR: dataDir, TLS_CERT: pem });
    expect(half.code).toBe(2);
    expect(half.out).toContain("slipstream: bad environment: TLS_KEY: required with TLS_CERT");
    const missing = await start({ PORT: "0", DATA_DIR: dataDir, TLS_CERT: pem, TLS_KEY: path.join(dir, "none.key") });
    expect(missing.code).toBe(2);
    expect(missing.out).toMatch(/TLS_KEY: cannot read .*none\.key \(ENOENT\)/);
    const bad = await start({ PORT: "0", DATA_DIR: dataDir, TLS_CERT: pem, TLS_KEY: pem });
    expect(bad.code).toBe(1);
    expect(bad.out).toContain("slipstream: cannot start: TLS_CERT: not a PEM certificate");
    expect(existsSync(path.join(dataDir, "slipstream.db"))).toBe(false);
  }, 60_000);
});

describe("npm start", () => {
  it("says in one line which isolation the local cloud has, and keeps its files private (DATA_DIR 0700, database 0600)", async () => {
    const dataDir = path.join(dir, "serving");
    // the server leaves its local network (bridge, claim) behind if killed: the teardown removes it with the directory
    testDataDirs.add(dataDir);
    const child = spawn(process.execPath, ["--import", "tsx", "server/main.ts", "--no-ui"], {
      cwd: ROOT,
      env: { ...process.env, HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "warn", DATA_DIR: dataDir },
    });
    try {
      let out = "";
      const line = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (d) => {
          out += d;
          const m = /^local cloud: .*$/m.exec(out);
          if (m) resolve(m[0]);
        });
        child.on("exit", (code) => reject(new Error(`server exited ${code}: ${out}`)));
      });
      // this machine (and CI) has bubblewrap and user namespaces
      expect(line).toMatch(/^local cloud: sandboxed: own mounts, PIDs, hostname and \/tmp \(bubblewrap\)/);
      const mode = async (p: string) => (await stat(p)).mode & 0o777;
      expect(await mode(dataDir)).toBe(0o700);
      for (const f of ["slipstream.db", "slipstream.db-wal", "secret.key"])
        expect(await mode(path.join(dataDir, f))).toBe(0o600);
    } finally {
      child.kill("SIGTERM");
    }
  }, 60_000);
});
