import { z } from "zod";

/** Error codes shared by REST responses, socket acks and the ss-* commands. */
export const ErrorCode = z.enum([
  "BAD_REQUEST", // 400: input failed validation; message names the field
  "UNAUTHORIZED", // 401: no or invalid credentials
  "FORBIDDEN", // 403: authenticated but not allowed
  "NOT_FOUND", // 404
  "CONFLICT", // 409: stale command, wrong state for the transition, duplicate
  "UNKNOWN_KEY", // runtime parameter that the run does not declare
  "NOT_SET", // ss-get --noblock on an unset parameter
  "TIMEOUT", // ss-get timed out
  "ABORTED", // the run's abort flag is raised
  "PAYLOAD_TOO_LARGE", // 413
  "TOO_MANY_REQUESTS", // 429: e.g. too many failed sign-ins for a username from one address; retry later
  "LIMIT_EXCEEDED", // 429: a server limit (instances, parameters, reports…) is reached; the message names it
  "UNAVAILABLE", // 503: server shutting down, agent not connected, storage read-only; retry later
  "STORAGE_FULL", // 507: the server's disk is full; nothing was stored, retry later
  "INTERNAL", // 500
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

/**
 * `fields`: for a refused input, each failing field's path (`nodes.client.multiplicity`, `sshKeys[1]`) and what is
 * wrong with it, so a form marks its fields without reading the message; `message` says it all in one line.
 */
export const ApiError = z.object({
  code: ErrorCode,
  message: z.string(),
  fields: z.record(z.string(), z.string()).optional(),
});
export type ApiError = z.infer<typeof ApiError>;
export const ApiErrorBody = z.object({ error: ApiError });

export const HTTP_STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  UNKNOWN_KEY: 400,
  NOT_SET: 404,
  TIMEOUT: 408,
  ABORTED: 409,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_REQUESTS: 429,
  LIMIT_EXCEEDED: 429,
  UNAVAILABLE: 503,
  STORAGE_FULL: 507,
  INTERNAL: 500,
};

/** Exit codes of the ss-* node commands (SlipStream's, kept for compatibility). */
export const SS_EXIT: Record<ErrorCode | "OK" | "USAGE" | "UNREACHABLE", number> = {
  OK: 0,
  NOT_SET: 1,
  USAGE: 2,
  UNREACHABLE: 4,
  INTERNAL: 5,
  UNAVAILABLE: 4,
  // the server is up but cannot store: a server-side failure, like INTERNAL
  STORAGE_FULL: 5,
  UNAUTHORIZED: 6,
  FORBIDDEN: 6,
  UNKNOWN_KEY: 7,
  BAD_REQUEST: 7,
  NOT_FOUND: 7,
  // SlipStream's commands exit 8 on every 409: the run refused (aborted, ended, not in Ready), not a server error
  CONFLICT: 8,
  PAYLOAD_TOO_LARGE: 7,
  TOO_MANY_REQUESTS: 5,
  LIMIT_EXCEEDED: 5,
  ABORTED: 8,
  TIMEOUT: 9,
};

/** A domain error carrying a wire code; thrown by server code, turned into responses at the edge. */
export class SlipError extends Error {
  constructor(
    public readonly code: ErrorCode,
    message: string,
    public readonly fields?: Record<string, string>,
  ) {
    super(message);
    this.name = "SlipError";
  }
  toJSON(): ApiError {
    return this.fields && Object.keys(this.fields).length > 0
      ? { code: this.code, message: this.message, fields: this.fields }
      : { code: this.code, message: this.message };
  }
}

/** One field's problem: `path` as a form names it (dots, `[i]` for list items), `message` what is wrong. */
export interface FieldProblem {
  path: string;
  message: string;
}

/**
 * A refusal naming its fields: the message is `prefix: path: message; path: message` (what people and logs read),
 * `fields` the same problems by path (what forms read). Problems on one path are joined.
 */
export function fieldsError(problems: FieldProblem[], prefix = "", code: ErrorCode = "BAD_REQUEST"): SlipError {
  const fields: Record<string, string> = {};
  for (const p of problems) {
    if (!p.path) continue;
    fields[p.path] = Object.hasOwn(fields, p.path) ? `${fields[p.path]}; ${p.message}` : p.message;
  }
  const text = problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join("; ");
  return new SlipError(code, prefix ? `${prefix}: ${text}` : text, fields);
}

/** A refusal of one field. */
export const fieldError = (path: string, message: string, code: ErrorCode = "BAD_REQUEST"): SlipError =>
  fieldsError([{ path, message }], "", code);

/** The problems of a zod error, each with its field path (`a.b`, list items as `a[1]`) under `prefix`. */
export function zodProblems(error: z.ZodError, prefix = ""): FieldProblem[] {
  return error.issues.map((issue) => {
    let path = prefix;
    for (const seg of issue.path) {
      if (typeof seg === "number") path += `[${seg}]`;
      else path += path ? `.${String(seg)}` : String(seg);
    }
    return { path, message: issue.message };
  });
}

/** Renders a zod error as one line naming each failing field, e.g. `nodes.client.multiplicity: Too small`. */
export function describeZodError(error: z.ZodError, prefix = ""): string {
  return zodProblems(error, prefix)
    .map((p) => (p.path ? `${p.path}: ${p.message}` : p.message))
    .join("; ");
}

/** Parses with a schema or throws a BAD_REQUEST SlipError naming the fields (in its message and its `fields`). */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, what = ""): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const fields = fieldsError(zodProblems(result.error, what)).fields;
    throw new SlipError("BAD_REQUEST", describeZodError(result.error, what), fields);
  }
  return result.data;
}
