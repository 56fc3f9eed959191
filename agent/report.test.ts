import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reportStamp, uploadReport } from "./report.js";

/** A real HTTP server answering uploads from a script of statuses, recording what it received. */
let server: http.Server;
let url: string;
let dir: string;
let statuses: number[] = [];
const received: { headers: http.IncomingHttpHeaders; url: string; body: Buffer }[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "ss-upload-"));
  server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, url: req.url ?? "", body: Buffer.concat(parts) });
      const status = statuses.shift() ?? 201;
      res.writeHead(status, { "content-type": "application/json" }).end(status < 300 ? "{}" : `{"status":${status}}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe("report upload", () => {
  it("sends the file whole with the agent's token, its length and type", async () => {
    const file = path.join(dir, "a.tgz");
    const content = randomBytes(300_000);
    await writeFile(file, content);
    received.length = 0;
    expect(await uploadReport({ serviceUrl: url, token: "tok-1" }, file, "c.1_report_x y.tgz")).toBeNull();
    expect(received).toHaveLength(1);
    expect(received[0].url).toBe("/api/agent/reports?name=c.1_report_x%20y.tgz");
    expect(received[0].headers.authorization).toBe("Bearer tok-1");
    expect(received[0].headers["content-type"]).toBe("application/gzip");
    expect(received[0].headers["content-length"]).toBe(String(content.length));
    expect(received[0].body.equals(content)).toBe(true);
  });

  it("retries server errors for as long as it is told, and gives up at once on a client error", async () => {
    const file = path.join(dir, "b.tgz");
    await writeFile(file, "x");
    const quick = { firstMs: 5, maxMs: 20, totalMs: 5000 };
    received.length = 0;
    statuses = [503, 502, 500, 503, 503, 503, 503, 503, 201];
    expect(await uploadReport({ serviceUrl: url, token: "t" }, file, "b", quick)).toBeNull();
    expect(received).toHaveLength(9);
    received.length = 0;
    statuses = Array(100).fill(503);
    expect(await uploadReport({ serviceUrl: url, token: "t" }, file, "b", { ...quick, totalMs: 100 })).toBe(
      'HTTP 503: {"status":503}',
    );
    statuses = [];
    received.length = 0;
    received.length = 0;
    statuses = [401];
    expect(await uploadReport({ serviceUrl: url, token: "t" }, file, "b", quick)).toBe('HTTP 401: {"status":401}');
    expect(received).toHaveLength(1);
  });

  it("reports a missing file as an error at once, sending nothing", async () => {
    received.length = 0;
    const error = await uploadReport({ serviceUrl: url, token: "t" }, path.join(dir, "none.tgz"), "n");
    expect(error).toContain("ENOENT");
    expect(received).toHaveLength(0);
  });
});

describe("report names", () => {
  it("never collide: a second report of the same second gets -2, a third -3, the next second none", () => {
    const t = new Date("2026-12-02T23:21:44.100Z");
    const first = reportStamp("client.1", t);
    expect(first).toBe("20261202T232144Z");
    expect(reportStamp("client.1", new Date("2026-12-02T23:21:44.900Z"))).toBe("20261202T232144Z-2");
    expect(reportStamp("client.1", new Date("2026-12-02T23:21:44.950Z"))).toBe("20261202T232144Z-3");
    expect(reportStamp("client.1", new Date("2026-12-02T23:21:45.000Z"))).toBe("20261202T232145Z");
    expect(REPORT_NAME.test(`client.1_report_${reportStamp("client.1", t)}.tgz`)).toBe(true);
  });

  it("are counted per instance: agents sharing a host process do not suffix each other's reports", () => {
    const t = new Date("2026-12-02T23:30:00.100Z");
    expect(reportStamp("web.1", t)).toBe("20261202T233000Z");
    expect(reportStamp("web.2", t)).toBe("20261202T233000Z");
    expect(reportStamp("web.1", t)).toBe("20261202T233000Z-2");
    expect(reportStamp("web.2", t)).toBe("20261202T233000Z-2");
  });
});

/** The server's rule for report file names (server/reports/store.ts), written out: the agent cannot import it. */
const REPORT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*_report_[A-Za-z0-9_.:-]+\.tgz$/;
