"use client";

import { API } from "@/protocol/catalog";
import {
  type EndpointDef,
  type EndpointInput,
  type EndpointOutput,
  endpointUrl,
  type OptionalIfEmpty,
  parseAnswer,
} from "@/protocol/endpoint";
import { ApiErrorBody } from "@/protocol/errors";

/** A failed /api call: the server's `{ error: { code, message, fields } }` with the HTTP status. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** each refused input field by path, when the server named them */
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiFailure";
  }
}

let csrfToken: string | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export type SessionInfo = EndpointOutput<typeof API.session>;

let redirecting = false;
/** What a page must write before it is left for the sign-in page (an editor's mark that its draft is kept). */
const beforeSignIn = new Set<() => void>();

/**
 * Runs `fn` synchronously just before the browser is sent to sign in, whichever request or connection found the
 * session gone; returns the unregistration.
 */
export function beforeRedirectToLogin(fn: () => void): () => void {
  beforeSignIn.add(fn);
  return () => {
    beforeSignIn.delete(fn);
  };
}

/**
 * A read the server has not answered by then is a failure like a refused connection: a server that hangs must not
 * leave a page "Loading…" for ever. State changes have no such bound (cutting one off would not undo it).
 */
const READ_TIMEOUT_MS = 10_000;

/** Sends the browser to the login page, remembering where it was. */
export function redirectToLogin(): void {
  if (typeof window === "undefined" || redirecting) return;
  if (window.location.pathname === "/login") return;
  redirecting = true;
  for (const fn of beforeSignIn) {
    try {
      fn();
    } catch {}
  }
  const next = window.location.pathname + window.location.search;
  window.location.assign(`/login?next=${encodeURIComponent(next)}`);
}

async function readError(res: Response): Promise<ApiFailure> {
  const text = await res.text();
  try {
    const body = ApiErrorBody.safeParse(JSON.parse(text));
    if (body.success) {
      const { code, message, fields } = body.data.error;
      return new ApiFailure(res.status, code, message, fields);
    }
  } catch {}
  return new ApiFailure(res.status, "INTERNAL", text.trim() || `the server answered ${res.status} ${res.statusText}`);
}

/** Reads the current session (user + CSRF token); null when signed out. */
export async function fetchSession(): Promise<SessionInfo | null> {
  const res = await fetch("/api/auth/session", { credentials: "same-origin", cache: "no-store" });
  if (res.status === 401) {
    setCsrfToken(null);
    return null;
  }
  if (!res.ok) throw await readError(res);
  const s = parseAnswer(API.session, await res.json());
  setCsrfToken(s.csrfToken);
  return s;
}

/**
 * Calls the REST API on the same origin with the session cookie. State changes carry the CSRF token; a 401
 * sends the browser to the login page.
 */
async function request(method: string, url: string, body: unknown, csrf: boolean): Promise<unknown> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (csrf && method !== "GET" && method !== "HEAD") {
    if (!csrfToken) await fetchSession();
    if (csrfToken) headers["x-csrf-token"] = csrfToken;
  }
  let res: Response;
  const read = method === "GET" || method === "HEAD";
  try {
    res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
      ...(read ? { signal: AbortSignal.timeout(READ_TIMEOUT_MS) } : {}),
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === "TimeoutError") {
      throw new ApiFailure(
        0,
        "TIMEOUT",
        `The SlipStream server did not answer within ${READ_TIMEOUT_MS / 1000} s. Check that it is running, then try again.`,
      );
    }
    throw new ApiFailure(
      0,
      "UNAVAILABLE",
      "Cannot reach the SlipStream server. Check that it is running, then try again.",
    );
  }
  if (res.status === 401) {
    redirectToLogin();
    throw await readError(res);
  }
  if (!res.ok) throw await readError(res);
  return res.json();
}

/** Calls a catalog endpoint: typed input, and the answer parsed with the endpoint's schema. */
export async function call<E extends EndpointDef>(
  e: E,
  ...[input]: OptionalIfEmpty<EndpointInput<E>>
): Promise<EndpointOutput<E>> {
  const given = (input ?? {}) as { params?: Record<string, string>; query?: unknown; body?: unknown };
  const body = e.body ? (given.body ?? {}) : undefined;
  // only a signed-in person's state changes carry the CSRF token (signing in has none yet)
  const csrf = e.auth === "user" || e.auth === "admin";
  return parseAnswer(e, await request(e.method, endpointUrl(e, given), body, csrf));
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
