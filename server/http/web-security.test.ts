import { io as ioClient } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROTOCOL_VERSION } from "../../protocol/version.js";
import { ADMIN_PASSWORD, startTestServer, type TestServer } from "../testing/harness.js";

/** security.md F18: the JSON media type, the page headers and the socket's Origin check, on the real server. */
let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close());

const signIn = (contentType: string) =>
  fetch(`${s.url}/api/auth/session`, {
    method: "POST",
    headers: { "content-type": contentType },
    body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
  });

describe("JSON bodies need a JSON content type", () => {
  it("refuses a CORS-simple type that merely mentions application/json, naming the header", async () => {
    for (const type of ["text/plain; application/json", "text/plain", "application/x-www-form-urlencoded"]) {
      const res = await signIn(type);
      expect(res.status, type).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("BAD_REQUEST");
      expect(body.error.message).toBe(`content-type: must be application/json (got '${type}')`);
    }
  });

  it("accepts application/json with parameters, in any case, and +json types", async () => {
    for (const type of [
      "application/json",
      "application/json; charset=utf-8",
      "Application/JSON",
      "application/vnd.x+json",
    ]) {
      expect((await signIn(type)).status, type).toBe(200);
    }
  });
});

describe("headers of pages and JSON answers", () => {
  it("forbid framing and sniffing, keep referrers on the site and set a content-security policy", async () => {
    for (const p of ["/api/health", "/api/runs", "/no-such-page"]) {
      const res = await fetch(`${s.url}${p}`);
      expect(res.headers.get("x-frame-options"), p).toBe("DENY");
      expect(res.headers.get("x-content-type-options"), p).toBe("nosniff");
      expect(res.headers.get("referrer-policy"), p).toBe("same-origin");
      const csp = res.headers.get("content-security-policy") ?? "";
      for (const d of [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "object-src 'none'",
      ]) {
        expect(csp, p).toContain(d);
      }
      // the socket of the page's own host, and no other
      expect(csp).toContain(`connect-src 'self' ws://${new URL(s.url).host} wss://${new URL(s.url).host};`);
      // HSTS only where this process serves TLS (tls.test.ts)
      expect(res.headers.get("strict-transport-security")).toBeNull();
    }
  });
});

describe("socket.io checks the Origin of browsers (same-site WebSocket hijacking)", () => {
  /** Resolves "connected" or the refusal, for a /ui socket with the admin's session cookie and `origin`. */
  async function uiSocket(origin: string | undefined, transport: "websocket" | "polling"): Promise<string> {
    const signed = await signIn("application/json");
    const cookie = (signed.headers.get("set-cookie") ?? "").split(";")[0];
    const socket = ioClient(`${s.url}/ui`, {
      auth: { protocolVersion: PROTOCOL_VERSION },
      transports: [transport],
      extraHeaders: { cookie, ...(origin ? { origin } : {}) },
      reconnection: false,
    });
    try {
      return await new Promise<string>((resolve) => {
        socket.once("connect", () => resolve("connected"));
        socket.once("connect_error", (err) => resolve(`refused: ${err.message}`));
      });
    } finally {
      socket.close();
    }
  }

  it("refuses a page of another origin (another port of the same host), over websocket and polling", async () => {
    expect(await uiSocket("http://127.0.0.1:1", "websocket")).toMatch(/^refused/);
    expect(await uiSocket("http://127.0.0.1:1", "polling")).toMatch(/^refused/);
    expect(await uiSocket("https://evil.example", "polling")).toMatch(/^refused/);
    expect(await uiSocket("null", "polling")).toMatch(/^refused/);
  });

  it("lets in the site's own pages and clients that send no Origin (CLI, agents)", async () => {
    const own = new URL(s.url).origin;
    expect(await uiSocket(own, "websocket")).toBe("connected");
    expect(await uiSocket(own, "polling")).toBe("connected");
    expect(await uiSocket(undefined, "websocket")).toBe("connected");
  });
});
