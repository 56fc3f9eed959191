import { createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach } from "vitest";

/** A webhook request as a receiver got it. */
export interface Received {
  at: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  path: string;
}

/** A webhook receiver on 127.0.0.1: `answer` decides each response (by the request's index). */
export class Receiver {
  readonly got: Received[] = [];
  private waiters: (() => void)[] = [];
  private readonly server: http.Server;
  answer: (i: number, req: Received, res: http.ServerResponse) => void = (_i, _r, res) => res.end("ok");

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const r = {
          at: Date.now(),
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
          path: req.url ?? "",
        };
        this.got.push(r);
        this.answer(this.got.length - 1, r, res);
        for (const w of this.waiters.splice(0)) w();
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves once `pred` holds for what was received (each request wakes it: nothing is polled). */
  async until(pred: (got: Received[]) => boolean, timeoutMs = 30_000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.got)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`receiver: not there within ${timeoutMs} ms (got ${this.got.length})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.got;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Receivers on loopback, each closed after the test: call once at the top of a test file, then `await open()`. */
export function receiversPerTest(): () => Promise<{ r: Receiver; url: string }> {
  const open: Receiver[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((r) => r.close()));
  });
  return async () => {
    const r = new Receiver();
    open.push(r);
    return { r, url: await r.listen() };
  };
}

/** What a receiver does: recompute the HMAC of the raw body and compare in constant time. */
export function verified(r: Received, secret: string): boolean {
  const header = r.headers["x-slipstream-signature-256"];
  if (typeof header !== "string" || !header.startsWith("sha256=")) return false;
  const expected = Buffer.from(createHmac("sha256", secret).update(r.body).digest("hex"));
  const given = Buffer.from(header.slice("sha256=".length));
  return given.length === expected.length && timingSafeEqual(given, expected);
}
