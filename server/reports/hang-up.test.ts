import { existsSync, readdirSync, readlinkSync } from "node:fs";
import { readdir } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { PeerCloud, startTestServer, type TestServer } from "../testing/harness.js";
import { tgzOf } from "../testing/reports.js";

/**
 * Agents and browsers that hang up mid-transfer: an upload cut off before its end leaves no `<name>.partial` in
 * DATA_DIR/reports (security.md F11), a download cut off leaves no open file behind (the server is this process).
 */
const APACHE = "examples/tutorials/service-testing/apache";
let s: TestServer;
const cloud = new PeerCloud();
beforeAll(async () => {
  s = await startTestServer({ connectors: new Map([["peer", cloud]]) });
});
afterAll(() => s.close());

/** Resolves once `check` holds, re-checking every 20 ms; rejects after `ms`. */
async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("a report upload whose client hangs up", () => {
  it("leaves no .partial file, and the same report can be sent again", async () => {
    const run = await s.api<RunDetail>("POST", "/api/runs", { module: APACHE, clouds: { machine: "peer" } });
    expect(run.status, JSON.stringify(run.body)).toBe(201);
    const { token } = await cloud.launched("machine.1");
    const name = "machine.1_report_cut.tgz";
    const partial = path.join(s.dataDir, "reports", run.body.id, `${name}.partial`);

    const req = http.request(`${s.url}/api/agent/reports?name=${name}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-length": 10 * 1024 * 1024 },
    });
    req.on("error", () => {}); // the hang-up below is the point
    req.write(Buffer.alloc(256 * 1024, 1));
    // the server is writing it: the partial file exists
    await eventually(() => existsSync(partial), "the upload reaching the disk");
    req.destroy();
    await eventually(async () => !existsSync(partial), "the partial file removed after the hang-up");
    expect(await readdir(path.dirname(partial))).toEqual([]);

    const again = await fetch(`${s.url}/api/agent/reports?name=${name}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: await tgzOf(1024),
    });
    expect(again.status).toBe(201);
    expect(await readdir(path.dirname(partial))).toEqual([name]);
    expect((await s.api("GET", "/api/health")).status).toBe(200);
  });
});

/** The paths this process holds open (Linux), for files under `dir`. */
function openUnder(dir: string): string[] {
  return readdirSync("/proc/self/fd").flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(dir) ? [target] : [];
    } catch {
      return []; // closed in between
    }
  });
}

describe.skipIf(!existsSync("/proc/self/fd"))("a report download whose client hangs up", () => {
  it("closes the report file", async () => {
    cloud.launches.clear();
    const run = await s.api<RunDetail>("POST", "/api/runs", { module: APACHE, clouds: { machine: "peer" } });
    expect(run.status, JSON.stringify(run.body)).toBe(201);
    const { token } = await cloud.launched("machine.1");
    const name = "machine.1_report_big.tgz";
    // bigger than what the sockets buffer: the download is mid-way when the client goes
    const upload = await fetch(`${s.url}/api/agent/reports?name=${name}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: await tgzOf(32 * 1024 * 1024),
    });
    expect(upload.status).toBe(201);
    const dir = path.join(s.dataDir, "reports", run.body.id);

    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${s.url}/api/runs/${run.body.id}/reports/${name}`, {
        headers: { authorization: `Bearer ${s.token}` },
      });
      req.on("response", (res) => {
        expect(res.statusCode).toBe(200);
        res.once("data", () => {
          // the server is reading the file: it is open, and the client pauses then goes
          expect(openUnder(dir)).toEqual([path.join(dir, name)]);
          res.pause();
          req.destroy();
          resolve();
        });
      });
      req.on("error", () => {});
      setTimeout(() => reject(new Error("no response")), 5000);
    });
    await eventually(() => openUnder(dir).length === 0, "the report file closed after the hang-up");
    expect((await s.api("GET", "/api/health")).status).toBe(200);
  });
});
