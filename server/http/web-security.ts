import type { IncomingMessage, ServerResponse } from "node:http";

interface WebSecurityOptions {
  /** served over TLS by this process: browsers are told to keep to https (HSTS) */
  tls: boolean;
  /** Next's dev server evaluates code it sends (react-refresh) */
  dev: boolean;
}

/**
 * The content-security policy of every page and JSON answer. Next's App Router writes its data and bootstrap as
 * inline scripts, so scripts keep 'unsafe-inline' (a nonce would need every page rendered per request); what the
 * policy still buys: nothing from another origin runs or loads, the site cannot be framed, forms and <base> stay on
 * the site, and no plugin content.
 */
function contentSecurityPolicy(dev: boolean, host?: string): string {
  // socket.io's websocket: 'self' matches ws(s) of the same host only in CSP3 browsers, so the host is named too
  // (only a plain host[:port], never text a client could use to widen the policy)
  const sockets =
    host && /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host)
      ? ` ws://${host} wss://${host}`
      : "";
  return [
    "default-src 'self'",
    `script-src 'self' 'unsafe-inline'${dev ? " 'unsafe-eval'" : ""}`,
    // React writes style attributes; Next inlines critical CSS
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src 'self'${sockets}`,
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "object-src 'none'",
  ].join("; ");
}

/** Headers every page and JSON answer carries (set before the API or Next writes its own). */
export function setSecurityHeaders(req: IncomingMessage, res: ServerResponse, opts: WebSecurityOptions): void {
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Content-Security-Policy", contentSecurityPolicy(opts.dev, req.headers.host));
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("Referrer-Policy", "same-origin");
  if (opts.tls) res.setHeader("Strict-Transport-Security", "max-age=31536000");
}

/**
 * Whether a socket.io handshake may go on: requests without an `Origin` (the CLI, agents: not a browser) may, and
 * a browser's only from this site — the origin whose host is the request's `Host` (a page on another port of the
 * same host is same-site, so SameSite cookies do not stop it) or the configured public URL (behind a proxy that
 * rewrites `Host`). The origin's scheme is not compared with the connection's: behind a TLS proxy the browser
 * says https while this process sees http.
 */
export function originAllowed(req: IncomingMessage, publicUrl?: string): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return false;
  }
  if (o.protocol !== "http:" && o.protocol !== "https:") return false;
  if (publicUrl !== undefined) {
    try {
      if (new URL(publicUrl).origin === o.origin) return true;
    } catch {
      // a bad public URL allows nothing more
    }
  }
  const host = req.headers.host;
  if (!host) return false;
  try {
    // parsed with the origin's scheme, so an explicit default port (`:443` on https) compares equal to none
    const h = new URL(`${o.protocol}//${host}`);
    return h.host === o.host && h.pathname === "/" && h.username === "" && h.password === "";
  } catch {
    return false;
  }
}
