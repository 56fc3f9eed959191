import type { IncomingMessage, ServerResponse } from "node:http";
import type { z } from "zod";
import type { EndpointAnswer, EndpointDef, PathParams } from "../../protocol/endpoint.js";
import { isRaw } from "../../protocol/endpoint.js";
import { type FieldProblem, fieldsError, SlipError, zodProblems } from "../../protocol/errors.js";
import type { AuthedUser, Signed } from "../auth/service.js";
import { checkAnswer } from "../contract-check.js";
import type { RunRuntime } from "../runs/runtime.js";
import { readJson, sendJson } from "./respond.js";

/** The agent a request came from, by its token. */
interface AgentCaller {
  rt: RunRuntime;
  instance: string;
}

/** How the router learns who is calling; each throws the refusal (401, 403) itself. */
export interface Gate {
  signedIn(req: IncomingMessage): Signed;
  agent(req: IncomingMessage): AgentCaller;
}

type Parsed<S, Fallback> = S extends z.ZodType ? z.output<S> : Fallback;
type Empty = Record<never, never>;

/** What a handler gets: its input parsed with the endpoint's schemas, and who is calling. */
type EndpointContext<E extends EndpointDef> = {
  req: IncomingMessage;
  res: ServerResponse;
  params: Parsed<E["params"], PathParams<E["path"]>>;
  query: Parsed<E["query"], Empty>;
  body: Parsed<E["body"], undefined>;
} & (E["auth"] extends "user" | "admin" ? { signed: Signed; user: AuthedUser } : Empty) &
  (E["auth"] extends "agent" ? { agent: AgentCaller } : Empty);

/** Returned by a handler that wrote its answer itself (a file, another representation). */
export const SENT = Object.freeze({ sent: true as const });
type Sent = typeof SENT;

type Handler<E extends EndpointDef> = (ctx: EndpointContext<E>) => Promise<Answer<E>> | Answer<E>;
type Answer<E extends EndpointDef> = EndpointAnswer<E> | Sent;

interface Route {
  endpoint: EndpointDef;
  pattern: RegExp;
  names: string[];
  handle: (
    req: IncomingMessage,
    res: ServerResponse,
    params: Record<string, string>,
    query: URLSearchParams,
  ) => Promise<void>;
}

function patternOf(path: string): { pattern: RegExp; names: string[] } {
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
  return { pattern: new RegExp(`^${source}$`), names };
}

/**
 * Routes come from the catalog (protocol/catalog): `route(API.x, handler)`. The router authenticates as the
 * endpoint says, parses path, query and body with its schemas (a refusal names the field), calls the handler and
 * sends its answer with the endpoint's status. Matching is by order of registration.
 */
export class Router {
  private readonly routes: Route[] = [];

  constructor(private readonly gate: Gate) {}

  route<E extends EndpointDef>(e: E, handler: Handler<E>): this {
    const { pattern, names } = patternOf(e.path);
    const handle = async (
      req: IncomingMessage,
      res: ServerResponse,
      rawParams: Record<string, string>,
      rawQuery: URLSearchParams,
    ) => {
      const who: Record<string, unknown> = {};
      if (e.auth === "user" || e.auth === "admin") {
        const signed = this.gate.signedIn(req);
        if (e.auth === "admin" && signed.user.role !== "admin") {
          throw new SlipError("FORBIDDEN", `only an admin may ${e.adminOnly ?? "do this"}`);
        }
        who.signed = signed;
        who.user = signed.user;
      } else if (e.auth === "agent") {
        who.agent = this.gate.agent(req);
      }
      // every refused field of the path, the query and the body in one answer
      const problems: FieldProblem[] = [];
      const parse = (schema: z.ZodType | undefined, value: unknown) => {
        if (!schema) return value;
        const r = schema.safeParse(value);
        if (r.success) return r.data;
        problems.push(...zodProblems(r.error));
        return undefined;
      };
      const params = parse(e.params, rawParams);
      const query = parse(e.query, Object.fromEntries(rawQuery.entries())) ?? {};
      const body = e.body ? parse(e.body, await readJson(req)) : undefined;
      if (problems.length > 0) throw fieldsError(problems);
      const ctx = { req, res, params, query, body, ...who } as EndpointContext<E>;
      const answer = await handler(ctx);
      if (answer === SENT || isRaw(e.response)) return;
      checkAnswer(e.response, answer, `answer of ${e.method} ${e.path}`);
      sendJson(res, e.status ?? 200, answer);
    };
    this.routes.push({ endpoint: e, pattern, names, handle });
    return this;
  }

  /** Every registered route as `METHOD /path/:param`, in order: the fuzz suite checks it exercised each one. */
  list(): string[] {
    return this.routes.map((r) => `${r.endpoint.method} ${r.endpoint.path}`);
  }

  /** The endpoints registered, in order (the OpenAPI test checks each is documented). */
  endpoints(): EndpointDef[] {
    return this.routes.map((r) => r.endpoint);
  }

  /** Returns the call to make, or `"method"` when the path exists with another method, or null. */
  match(
    method: string,
    pathname: string,
  ):
    | { handler: (ctx: { req: IncomingMessage; res: ServerResponse; query: URLSearchParams }) => Promise<void> }
    | "method"
    | null {
    let pathMatched = false;
    for (const r of this.routes) {
      const m = r.pattern.exec(pathname);
      if (!m) continue;
      pathMatched = true;
      if (r.endpoint.method !== method) continue;
      const params: Record<string, string> = {};
      r.names.forEach((n, i) => {
        try {
          params[n] = decodeURIComponent(m[i + 1]);
        } catch {
          // `%`, `%E0%A4%A`: a path no route can mean
          throw new SlipError("BAD_REQUEST", `${n}: not a valid percent-encoded path segment`);
        }
      });
      return { handler: ({ req, res, query }) => r.handle(req, res, params, query) };
    }
    return pathMatched ? "method" : null;
  }
}

export { sendJson };
