import { z } from "zod";
import { endpoint } from "../endpoint";

export const docsRoutes = {
  openapi: endpoint({
    method: "GET",
    path: "/api/openapi.json",
    tag: "docs",
    auth: "none",
    summary: "This document: every route of the API as OpenAPI 3.1, generated from the catalog",
    response: z.record(z.string(), z.unknown()),
  }),
  docs: endpoint({
    method: "GET",
    path: "/api/docs",
    tag: "docs",
    auth: "none",
    summary: "The API reference to browse (Swagger UI over /api/openapi.json)",
    response: { raw: "text/html" },
  }),
  docsAsset: endpoint({
    method: "GET",
    path: "/api/docs/*file",
    tag: "docs",
    auth: "none",
    summary: "The reference page's scripts and styles",
    params: z.object({ file: z.string().regex(/^[\w.-]+$/, "a file of the reference page") }),
    response: { raw: "application/octet-stream" },
    errors: ["NOT_FOUND"],
  }),
};
