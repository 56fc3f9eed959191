import { createHash } from "node:crypto";
import { existsSync, readdirSync, readlinkSync } from "node:fs";
import fs from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { extract } from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { PeerCloud, startTestServer, type TestServer } from "../testing/harness.js";
import { tgzOf } from "../testing/reports.js";

/** "Download all reports": GET /api/runs/:id/reports.tgz streams one tarball holding every report of the run. */
const SYSTEM = "examples/tutorials/service-testing/system";
let s: TestServer;
const cloud = new PeerCloud();
beforeAll(async () => {
  s = await startTestServer({ connectors: new Map([["peer", cloud]]) });
});
afterAll(() => s.close());

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function systemRun(): Promise<{ run: RunDetail; tokens: Record<string, string> }> {
  cloud.launches.clear();
  const res = await s.api<RunDetail>("POST", "/api/runs", {
    module: SYSTEM,
    clouds: { apache: "peer", client: "peer" },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const tokens: Record<string, string> = {};
  for (const i of ["apache.1", "client.1"]) tokens[i] = (await cloud.launched(i)).token;
  return { run: res.body, tokens };
}

async function upload(token: string, name: string, body: Uint8Array<ArrayBuffer>): Promise<void> {
  const res = await fetch(`${s.url}/api/agent/reports?name=${name}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body,
  });
  expect(res.status, await res.text()).toBe(201);
}

/** The paths this process holds open (Linux), for files under `dir`. */
function openUnder(dir: string): string[] {
  return readdirSync("/proc/self/fd").flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(dir) ? [target] : [];
    } catch {
      return [];
    }
  });
}

describe("the reports archive", () => {
  it("holds every report of the run, byte for byte, under the run's id", async () => {
    const { run, tokens } = await systemRun();
    const sent: Record<string, Uint8Array<ArrayBuffer>> = {
      "apache.1_report_20261203T100000Z.tgz": await tgzOf(3 * 1024 * 1024),
      "apache.1_report_20261203T100500Z.tgz": await tgzOf(2000),
      "client.1_report_20261203T100000Z.tgz": await tgzOf(70_000),
      // past ustar's 100 characters: a pax header carries the name
      [`client.1_report_${"x".repeat(150)}.tgz`]: await tgzOf(5000),
    };
    for (const [name, body] of Object.entries(sent)) await upload(tokens[name.split("_")[0]], name, body);

    const res = await fetch(`${s.url}/api/runs/${run.id}/reports.tgz`, {
      headers: { authorization: `Bearer ${s.token}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/gzip");
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="${run.id}_reports.tgz"`);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-archive-"));
    try {
      const file = path.join(dir, "all.tgz");
      await fs.writeFile(file, Buffer.from(await res.arrayBuffer()));
      const out = path.join(dir, "out");
      await fs.mkdir(out);
      await extract({ file, cwd: out, strict: true });
      expect(await fs.readdir(out)).toEqual([run.id]);
      const inside = (await fs.readdir(path.join(out, run.id))).sort();
      expect(inside).toEqual(Object.keys(sent).sort());
      for (const [name, body] of Object.entries(sent)) {
        expect(sha(await fs.readFile(path.join(out, run.id, name))), name).toBe(sha(body));
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it("leaves out a report gone from disk, answers 404 for a run without reports, and any member may download", async () => {
    const { run, tokens } = await systemRun();
    const none = await s.api<{ error: { code: string } }>("GET", `/api/runs/${run.id}/reports.tgz`);
    expect(none.status).toBe(404);
    expect((await s.api("GET", "/api/runs/00000000-0000-0000-0000-000000000000/reports.tgz")).status).toBe(404);

    await upload(tokens["apache.1"], "apache.1_report_a.tgz", await tgzOf(1000));
    await upload(tokens["client.1"], "client.1_report_b.tgz", await tgzOf(1000));
    await fs.rm(path.join(s.dataDir, "reports", run.id, "client.1_report_b.tgz"));
    const res = await fetch(`${s.url}/api/runs/${run.id}/reports.tgz`, {
      headers: { authorization: `Bearer ${s.token}` },
    });
    expect(res.status).toBe(200);
    const names: string[] = [];
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-archive-"));
    try {
      await fs.writeFile(path.join(dir, "a.tgz"), Buffer.from(await res.arrayBuffer()));
      await extract({ file: path.join(dir, "a.tgz"), cwd: dir, onReadEntry: (e) => names.push(e.path) });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
    expect(names).toEqual([`${run.id}/apache.1_report_a.tgz`]);
    // the one-report route is still the one-report route
    expect((await s.api("GET", `/api/runs/${run.id}/reports/apache.1_report_a.tgz`)).status).toBe(200);
    expect((await s.api("GET", `/api/runs/${run.id}/reports.tgz`, undefined, null)).status).toBe(401);
  });

  it.skipIf(!existsSync("/proc/self/fd"))("closes the report files when the client hangs up mid-archive", async () => {
    const { run, tokens } = await systemRun();
    await upload(tokens["apache.1"], "apache.1_report_big.tgz", await tgzOf(32 * 1024 * 1024));
    const dir = path.join(s.dataDir, "reports", run.id);
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${s.url}/api/runs/${run.id}/reports.tgz`, {
        headers: { authorization: `Bearer ${s.token}` },
      });
      req.on("response", (res) => {
        expect(res.statusCode).toBe(200);
        res.once("data", () => {
          res.pause();
          req.destroy();
          resolve();
        });
      });
      req.on("error", () => {});
      setTimeout(() => reject(new Error("no response")), 5000);
    });
    const until = Date.now() + 5000;
    while (openUnder(dir).length > 0) {
      if (Date.now() > until) throw new Error(`still open: ${openUnder(dir)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await s.api("GET", "/api/health")).status).toBe(200);
  });
});
