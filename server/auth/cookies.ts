import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

export const SESSION_COOKIE = "ss_session";

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        // a malformed value (`ss_session=%`) is no session, never an exception in a socket middleware
        return undefined;
      }
    }
  }
  return undefined;
}

/** Compares a presented secret (a CSRF token) in constant time; anything not a string is no match. */
export function sameSecret(given: unknown, expected: string): boolean {
  if (typeof given !== "string") return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function sessionCookie(req: IncomingMessage): string | undefined {
  return readCookie(req.headers.cookie, SESSION_COOKIE);
}

/** Served over TLS, directly or behind a proxy that says so: the cookie is then never sent in clear. */
function secure(req: IncomingMessage): string {
  const tls = (req.socket as { encrypted?: boolean }).encrypted === true;
  const forwarded =
    String(req.headers["x-forwarded-proto"] ?? "")
      .split(",")[0]
      .trim() === "https";
  return tls || forwarded ? "; Secure" : "";
}

/** httpOnly so page scripts cannot read it; SameSite=Lax so other sites' requests do not carry it. */
export function setSessionCookie(req: IncomingMessage, token: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Lax; Path=/; Max-Age=${maxAgeSeconds}${secure(req)}`;
}

export function clearSessionCookie(req: IncomingMessage): string {
  return `${SESSION_COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0${secure(req)}`;
}
