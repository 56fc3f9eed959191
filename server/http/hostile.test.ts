import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { io } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROTOCOL_VERSION } from "../../protocol/version.js";
import { ROOT } from "../root.js";
import { testDataDirs } from "../testing/data-dirs.js";

/**
 * The pre-auth crashes of security.md F2 and F3 (PoCs 01 and 02), against the real server process without the UI
 * (where an unhandled exception ends the process): each request gets an answer and the server stays up.
 */
let child: ChildProcess;
let port: number;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "ss-hostile-"));
  // a killed server leaves its local network (bridge, claim) behind: the teardown removes it with the directory
  testDataDirs.add(dir);
  child = spawn(process.execPath, ["--import", "tsx", "server/main.ts", "--no-ui"], {
    cwd: ROOT,
    env: { ...process.env, HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "fatal", DATA_DIR: dir },
  });
  port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d) => {
      out += d;
      const m = /serving on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
}, 60_000);
afterAll(async () => {
  child.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

/** One request written byte for byte (no client library normalises it), and the status line of the answer. */
function raw(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => s.write(request));
    let got = "";
    s.setTimeout(1000, () => {
      s.destroy();
      resolve(got || "(no answer in 1 s)");
    });
    s.on("data", (d) => {
      got += d;
      if (got.includes("\r\n\r\n")) s.end();
    });
    s.on("close", () => resolve(got));
    s.on("error", reject);
  });
}

async function stillUp(): Promise<void> {
  expect(child.exitCode).toBeNull();
  const health = await fetch(`http://127.0.0.1:${port}/api/health`);
  expect(health.status).toBe(200);
}

describe("hostile requests to a server without the UI", () => {
  it("GET /api/runs/% (a bad percent-encoding in a path parameter): 400 naming the parameter", async () => {
    const answer = await raw("GET /api/runs/% HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect(answer).toContain("id: not a valid percent-encoded path segment");
    await stillUp();
  });

  it("GET // and GET //x:99999 (targets no URL parser takes): 400", async () => {
    for (const target of ["//", "//x:99999", "//["]) {
      const answer = await raw(`GET ${target} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
      expect(answer, target).toMatch(/^HTTP\/1\.1 400/);
    }
    await stillUp();
  });

  it("headers over 16 KiB and a request line no parser takes: a JSON 431 and 400 naming what is wrong", async () => {
    const big = await raw(`GET /api/health HTTP/1.1\r\nHost: a\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
    expect(big).toMatch(/^HTTP\/1\.1 431/);
    expect(big).toContain('"message":"headers: larger than the server accepts (16 KiB)"');
    const bad = await raw("GET /api/health HTTP/9.9 nonsense\r\n\r\n");
    expect(bad).toMatch(/^HTTP\/1\.1 400/);
    expect(bad).toContain('"code":"BAD_REQUEST"');
    await stillUp();
  });

  it("GET /socket.io/../api/nope (a path both socket.io and the API could claim): answered once", async () => {
    const answer = await raw("GET /socket.io/../api/nope HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    expect(answer).toMatch(/^HTTP\/1\.1 4\d\d/);
    await stillUp();
  });

  it("a /ui handshake with the cookie ss_session=% is refused as unauthenticated", async () => {
    const message = await new Promise<string>((resolve) => {
      const s = io(`http://127.0.0.1:${port}/ui`, {
        transports: ["websocket"],
        reconnection: false,
        extraHeaders: { cookie: "ss_session=%" },
        auth: { protocolVersion: PROTOCOL_VERSION },
      });
      s.on("connect_error", (e) => {
        s.close();
        resolve(e.message);
      });
      s.on("connect", () => {
        s.close();
        resolve("connected");
      });
    });
    expect(message).toMatch(/UNAUTHORIZED|sign in|not signed in/i);
    await stillUp();
  });
});
