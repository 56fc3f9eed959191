import { ANSWER_WITHIN_MS, type Answer } from "./send.js";

/**
 * What every answer to fuzzed input must be: there within the bound, not a 5xx, and on /api a JSON error naming
 * what was wrong (`error.code`, `error.message`) whenever it is a 4xx. Returns the problem, or null.
 */
export function problemWith(a: Answer, opts: { api: boolean; within?: number }): string | null {
  const within = opts.within ?? ANSWER_WITHIN_MS;
  if (a.status === 0) return `no answer within ${within} ms (${a.failure})`;
  if (a.ms > within) return `answered after ${a.ms} ms`;
  if (a.status >= 500) return `a ${a.status} for bad input`;
  // a request line or headers over Node's 16 KiB limit are refused by its parser before any route sees them
  if (opts.api && a.status >= 400 && a.status !== 431) {
    if (!a.contentType.startsWith("application/json")) return `a ${a.status} that is not JSON (${a.contentType})`;
    let error: unknown;
    try {
      error = (JSON.parse(a.body) as { error?: unknown }).error;
    } catch {
      return `a ${a.status} whose body is not JSON`;
    }
    const e = error as { code?: unknown; message?: unknown } | undefined;
    if (typeof e?.code !== "string" || typeof e.message !== "string" || e.message === "") {
      return `a ${a.status} without error.code and error.message`;
    }
  }
  return null;
}

/** A request and its answer as a failure report shows them: enough to replay it by hand. */
export function describeExchange(
  req: { method: string; path: string; headers: Record<string, string>; body?: { label: string; bytes: Buffer } },
  a: Answer,
): string {
  const clip = (t: string, n = 300) => (t.length > n ? `${t.slice(0, n)}… (${t.length} chars)` : t);
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, clip(v, 80)]));
  return [
    `${req.method} ${clip(req.path, 200)}`,
    `headers: ${JSON.stringify(headers)}`,
    req.body ? `body (${req.body.label}): ${clip(req.body.bytes.toString("utf8"))}` : "no body",
    `answer: ${a.status} in ${a.ms} ms ${a.failure ?? ""} ${clip(a.body)}`,
  ].join("\n");
}

/**
 * How much the resident set may grow over a whole fuzz file. The suite sends bodies up to 6 MiB one at a time and
 * the server keeps none of them: what it legitimately keeps (a few thousand small runs, events, modules in SQLite's
 * page cache, V8's heap not yet given back) stays well under this; a leak of the bodies it refuses (tens of 5 MiB
 * payloads per file) would not.
 */
export const RSS_GROWTH_LIMIT = 300 * 1024 * 1024;
