import http from "node:http";
import { io as ioClient, type Socket } from "socket.io-client";
import { PROTOCOL_VERSION } from "../../protocol/version.js";
import type { TestServer } from "../testing/harness.js";

/** Test helpers for access tests: team members, browser sessions and raw socket handshakes against a real server. */

export async function addMember(s: TestServer, username: string, role: "admin" | "member" = "member") {
  const password = `${username}-password`;
  const created = await s.api("POST", "/api/users", { username, displayName: `${username} (test)`, role, password });
  if (created.status !== 201)
    throw new Error(`creating ${username}: ${created.status} ${JSON.stringify(created.body)}`);
  const login = await s.api<{ token: string }>("POST", "/api/auth/login", { username, password }, null);
  return { username, password, token: login.body.token };
}

export interface BrowserSession {
  cookie: string;
  csrfToken: string;
  fetch(
    method: string,
    url: string,
    body?: unknown,
    opts?: { csrf?: boolean },
  ): Promise<{ status: number; body: unknown }>;
}

/** Signs in like the login page does: the session cookie plus the CSRF token for state changes. */
export async function browserSession(s: TestServer, username: string, password: string): Promise<BrowserSession> {
  const res = await fetch(`${s.url}/api/auth/session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`session for ${username}: ${res.status}`);
  const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0];
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  return {
    cookie,
    csrfToken,
    async fetch(method, url, body, opts = {}) {
      const headers: Record<string, string> = { cookie };
      if (body !== undefined) headers["content-type"] = "application/json";
      if (opts.csrf !== false) headers["x-csrf-token"] = csrfToken;
      const r = await fetch(`${s.url}${url}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {}
      return { status: r.status, body: parsed };
    },
  };
}

/** Connects to a namespace; resolves with the socket, or with the connect_error message. */
export function connect(
  s: TestServer,
  nsp: "/ui" | "/agent",
  auth: { token?: string; cookie?: string },
): Promise<{ socket: Socket | null; error: string | null }> {
  return new Promise((resolve) => {
    const socket = ioClient(`${s.url}${nsp}`, {
      auth: { ...(auth.token ? { token: auth.token } : {}), protocolVersion: PROTOCOL_VERSION },
      extraHeaders: auth.cookie ? { cookie: auth.cookie } : undefined,
      transports: ["websocket"],
      reconnection: false,
    });
    socket.on("connect", () => resolve({ socket, error: null }));
    socket.on("connect_error", (err) => {
      socket.close();
      resolve({ socket: null, error: err.message });
    });
  });
}

export function emitAck<T = unknown>(socket: Socket, event: string, req: unknown): Promise<T> {
  return new Promise((resolve) => socket.emit(event, req, resolve));
}

/**
 * One JSON request sent from a chosen loopback address (127.0.0.0/8 is all loopback on Linux), so a test can be
 * several clients at once without trusting forwarded headers. Also reports how long the answer took.
 */
export function requestFrom<T = unknown>(
  s: TestServer,
  ip: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T; ms: number }> {
  const url = new URL(s.url);
  const started = performance.now();
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path,
        method,
        localAddress: ip,
        agent: false,
        headers: { ...(text === undefined ? {} : { "content-type": "application/json" }), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const raw = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = raw;
          try {
            parsed = JSON.parse(raw);
          } catch {}
          resolve({ status: res.statusCode ?? 0, body: parsed as T, ms: performance.now() - started });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(text);
  });
}

/** A sign-in (`POST /api/auth/login`) from a chosen loopback address. */
export function loginFrom(
  s: TestServer,
  ip: string,
  username: string,
  password: string,
  headers?: Record<string, string>,
) {
  return requestFrom<{ token?: string; error?: { code: string; message: string } }>(
    s,
    ip,
    "POST",
    "/api/auth/login",
    { username, password },
    headers,
  );
}
