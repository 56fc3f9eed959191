"use client";

/** A failed /api call: the server's `{ error: { code, message } }` with the HTTP status. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiFailure";
  }
}

let csrfToken: string | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export interface SessionInfo {
  user: { username: string; role: string };
  csrfToken: string;
}

let redirecting = false;

/** Sends the browser to the login page, remembering where it was. */
export function redirectToLogin(): void {
  if (typeof window === "undefined" || redirecting) return;
  if (window.location.pathname === "/login") return;
  redirecting = true;
  const next = window.location.pathname + window.location.search;
  window.location.assign(`/login?next=${encodeURIComponent(next)}`);
}

async function readError(res: Response): Promise<ApiFailure> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body.error?.message) return new ApiFailure(res.status, body.error.code ?? "INTERNAL", body.error.message);
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
  const s = (await res.json()) as SessionInfo;
  setCsrfToken(s.csrfToken);
  return s;
}

/**
 * Calls the REST API on the same origin with the session cookie. State changes carry the CSRF token; a 401
 * sends the browser to the login page.
 */
export async function api<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && method !== "HEAD") {
    if (!csrfToken) await fetchSession();
    if (csrfToken) headers["x-csrf-token"] = csrfToken;
  }
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
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
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
