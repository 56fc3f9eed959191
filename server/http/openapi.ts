import { z } from "zod";
import {
  createDocument,
  type ZodOpenApiOperationObject,
  type ZodOpenApiPathsObject,
  type ZodOpenApiResponseObject,
} from "zod-openapi";
import { API } from "../../protocol/catalog/index.js";
import { type EndpointDef, isRaw } from "../../protocol/endpoint.js";
import { ApiErrorBody, type ErrorCode, HTTP_STATUS } from "../../protocol/errors.js";
import { PROTOCOL_VERSION } from "../../protocol/version.js";

/** The error codes a route can answer: those it declares, and those its auth, input and every write imply. */
function errorCodesOf(e: EndpointDef): ErrorCode[] {
  const codes = new Set<ErrorCode>(e.errors ?? []);
  if (e.params || e.query || e.body || e.requestRaw) codes.add("BAD_REQUEST");
  if (e.body) codes.add("PAYLOAD_TOO_LARGE");
  if (e.auth !== "none") codes.add("UNAUTHORIZED");
  if (e.auth === "admin") codes.add("FORBIDDEN");
  // a cookie-borne state change without its CSRF header
  if (e.auth === "user" && e.method !== "GET") codes.add("FORBIDDEN");
  if (e.method !== "GET") codes.add("STORAGE_FULL");
  codes.add("UNAVAILABLE");
  codes.add("INTERNAL");
  return [...codes];
}

const openApiPath = (path: string) => path.replace(/[:*](\w+)/g, "{$1}");

function operation(name: string, e: EndpointDef): ZodOpenApiOperationObject {
  const responses: Record<string, ZodOpenApiResponseObject> = {};
  const status = String(e.status ?? 200);
  responses[status] = isRaw(e.response)
    ? { description: e.summary, content: { [e.response.raw]: { schema: z.string() } } }
    : { description: e.summary, content: { "application/json": { schema: e.response } } };
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorCodesOf(e)) {
    const s = HTTP_STATUS[code];
    byStatus.set(s, [...(byStatus.get(s) ?? []), code]);
  }
  for (const [s, codes] of byStatus) {
    responses[String(s)] = {
      description: `error: ${codes.join(", ")}`,
      content: { "application/json": { schema: ApiErrorBody } },
    };
  }
  const params = e.params ?? (e.path.includes(":") || e.path.includes("*") ? pathParamsOf(e.path) : undefined);
  return {
    operationId: name,
    summary: e.summary,
    tags: [e.tag],
    ...(e.auth === "none" ? { security: [] } : e.auth === "agent" ? { security: [{ agentToken: [] }] } : {}),
    requestParams: {
      ...(params ? { path: params as z.ZodObject } : {}),
      ...(e.query ? { query: e.query as z.ZodObject } : {}),
    },
    ...(e.body
      ? { requestBody: { required: true, content: { "application/json": { schema: e.body } } } }
      : e.requestRaw
        ? { requestBody: { required: true, content: { [e.requestRaw]: { schema: z.string() } } } }
        : {}),
    responses: responses as ZodOpenApiOperationObject["responses"],
  };
}

function pathParamsOf(path: string): z.ZodObject {
  const names = [...path.matchAll(/[:*](\w+)/g)].map((m) => m[1]);
  return z.object(Object.fromEntries(names.map((n) => [n, z.string()])));
}

/** OpenAPI 3.1 of every catalog entry. */
export function openApiDocument(): Record<string, unknown> {
  const paths: ZodOpenApiPathsObject = {};
  for (const [name, e] of Object.entries(API) as [string, EndpointDef][]) {
    const p = openApiPath(e.path);
    paths[p] = { ...paths[p], [e.method.toLowerCase()]: operation(name, e) };
  }
  return createDocument({
    openapi: "3.1.0",
    info: {
      title: "SlipStream API",
      version: String(PROTOCOL_VERSION),
      description:
        "Every route of the server, generated from its catalog (protocol/catalog). Errors answer " +
        "`{ error: { code, message, fields? } }`; `fields` names each refused input field. People authenticate with " +
        "an API token (`Authorization: Bearer`, from `slipstream login` or the profile page) or the browser's " +
        "session cookie (state changes then carry `x-csrf-token`); agents with their instance's token.",
    },
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "an API token (ss_…)" },
        session: { type: "apiKey", in: "cookie", name: "ss_session" },
        agentToken: { type: "http", scheme: "bearer", description: "an agent's instance token" },
      },
    },
    security: [{ bearer: [] }, { session: [] }],
    paths,
  }) as unknown as Record<string, unknown>;
}
