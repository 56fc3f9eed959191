import type { IncomingMessage, ServerResponse } from "node:http";
import { SlipError } from "../../protocol/index.js";

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
}

type Handler = (ctx: RouteContext) => Promise<void> | void;

interface Route {
  method: string;
  path: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

/**
 * Path patterns: `:name` matches one segment, `*name` the rest of the path (module paths contain slashes).
 * Matching is by order of registration.
 */
export class Router {
  private readonly routes: Route[] = [];

  on(method: string, path: string, handler: Handler): this {
    const names: string[] = [];
    const source = path
      .split("/")
      .map((seg) => {
        if (seg.startsWith(":")) {
          names.push(seg.slice(1));
          return "([^/]+)";
        }
        if (seg.startsWith("*")) {
          names.push(seg.slice(1));
          return "(.+)";
        }
        return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      })
      .join("/");
    this.routes.push({ method, path, pattern: new RegExp(`^${source}$`), names, handler });
    return this;
  }

  /** Every registered route as `METHOD /path/:param`, in order: the fuzz suite checks it exercised each one. */
  list(): string[] {
    return this.routes.map((r) => `${r.method} ${r.path}`);
  }

  /** Returns the handler call, or `"method"` when the path exists with another method, or null. */
  match(method: string, pathname: string): { handler: Handler; params: Record<string, string> } | "method" | null {
    let pathMatched = false;
    for (const r of this.routes) {
      const m = r.pattern.exec(pathname);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== method) continue;
      const params: Record<string, string> = {};
      r.names.forEach((n, i) => {
        try {
          params[n] = decodeURIComponent(m[i + 1]);
        } catch {
          // `%`, `%E0%A4%A`: a path no route can mean
          throw new SlipError("BAD_REQUEST", `${n}: not a valid percent-encoded path segment`);
        }
      });
      return { handler: r.handler, params };
    }
    return pathMatched ? "method" : null;
  }
}
