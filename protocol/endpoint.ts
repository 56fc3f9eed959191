import type { z } from "zod";
import type { ErrorCode } from "./errors";

/**
 * One HTTP route of the contract: everything the server, the clients and the OpenAPI document need to know of it.
 * The server registers a handler against it (its body, query and path are parsed with these schemas before the
 * handler runs, and its answer is typed by `response`); the app and the CLI call it with typed input and parse the
 * answer with the same schema.
 */
type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/**
 * Who may call: `none` anybody; `user` a signed-in person (API token or session cookie; a cookie-borne state change
 * also needs the x-csrf-token header); `admin` a signed-in admin; `agent` a node agent's token; `session` the session
 * cookie itself is what is read or ended.
 */
type Auth = "none" | "user" | "admin" | "agent" | "session";

/** An answer that is not JSON (a file, a stream): its content type. The handler writes it itself. */
interface RawResponse {
  raw: string;
}

export interface EndpointDef {
  method: Method;
  /** `:name` is one path segment, `*name` the rest of the path (module paths hold slashes) */
  path: string;
  summary: string;
  /** the resource it belongs to: its section in the OpenAPI document and its file of handlers on the server */
  tag: string;
  auth: Auth;
  /** for `admin` routes, what the refusal says only an admin may do */
  adminOnly?: string;
  /** path parameters beyond "a non-empty segment" */
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** a body that is not JSON (an upload): its content type; the handler reads the request itself */
  requestRaw?: string;
  /** the success status (200 when not given) */
  status?: number;
  response: z.ZodType | RawResponse;
  /** the error codes this route answers beyond those its auth and input imply */
  errors?: readonly ErrorCode[];
}

/** Declares an endpoint, keeping its literal types. */
export const endpoint = <const E extends EndpointDef>(e: E): E => e;

type Segments<P extends string> = P extends `${infer Head}/${infer Rest}` ? Head | Segments<Rest> : P;
type ParamName<S> = S extends `:${infer N}` ? N : S extends `*${infer N}` ? N : never;
/** `/api/runs/:id/params/*key` → `{ id: string; key: string }` */
export type PathParams<P extends string> = { [K in ParamName<Segments<P>>]: string };

type Empty = Record<never, never>;
/** What a client gives to call an endpoint. */
export type EndpointInput<E extends EndpointDef> = (keyof PathParams<E["path"]> extends never
  ? Empty
  : { params: PathParams<E["path"]> }) &
  (E["body"] extends z.ZodType ? { body: z.input<E["body"]> } : Empty) &
  (E["query"] extends z.ZodType ? { query?: z.input<E["query"]> } : Empty);

/** A call's arguments: the input may be left out when the endpoint takes none. */
export type OptionalIfEmpty<I> = keyof I extends never ? [input?: I] : [input: I];

/** What a client gets back (after parsing with the response schema). */
export type EndpointOutput<E extends EndpointDef> = E["response"] extends z.ZodType ? z.output<E["response"]> : never;
/** What a handler returns (before parsing: fields with defaults may be left out). */
export type EndpointAnswer<E extends EndpointDef> = E["response"] extends z.ZodType
  ? z.input<E["response"]>
  : undefined;

export const isRaw = (r: EndpointDef["response"]): r is RawResponse => typeof (r as RawResponse).raw === "string";

/** The path with its parameters filled in and the query appended: `*` parameters keep their slashes. */
export function endpointUrl(e: EndpointDef, input: { params?: Record<string, string>; query?: unknown }): string {
  const params = input.params ?? {};
  const path = e.path
    .split("/")
    .map((seg) => {
      if (seg.startsWith(":")) return encodeURIComponent(params[seg.slice(1)] ?? "");
      if (seg.startsWith("*")) return (params[seg.slice(1)] ?? "").split("/").map(encodeURIComponent).join("/");
      return seg;
    })
    .join("/");
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries((input.query ?? {}) as Record<string, unknown>)) {
    if (v !== undefined && v !== null) query.set(k, String(v));
  }
  const qs = query.toString();
  return qs ? `${path}?${qs}` : path;
}

/** Parses an endpoint's JSON answer with its schema; a mismatch names the endpoint and the field. */
export function parseAnswer<E extends EndpointDef>(e: E, json: unknown): EndpointOutput<E> {
  if (isRaw(e.response)) throw new Error(`${e.method} ${e.path} answers ${e.response.raw}, not JSON`);
  const result = e.response.safeParse(json);
  if (result.success) return result.data as EndpointOutput<E>;
  const issue = result.error.issues[0];
  throw new Error(
    `the server's answer to ${e.method} ${e.path} does not match this client (${issue.path.join(".") || "body"}: ${issue.message}); is the client up to date with the server?`,
  );
}
