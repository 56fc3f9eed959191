import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API } from "../../protocol/catalog/index.js";
import { startTestServer, type TestServer } from "../testing/harness.js";
import { createApi } from "./api.js";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s?.close());

const toOpenApi = (path: string) => path.replace(/[:*](\w+)/g, "{$1}");

describe("the OpenAPI document", () => {
  it("is valid OpenAPI 3.1, by a maintained validator", async () => {
    const res = await fetch(`${s.url}/api/openapi.json`);
    expect(res.status).toBe(200);
    const doc = await res.json();
    expect(doc.openapi).toBe("3.1.0");
    const result = await new Validator().validate(doc);
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
    expect(result.valid).toBe(true);
    // and the validator does refuse: the same document with a parameter in no place a parameter can be
    const broken = structuredClone(doc);
    broken.paths["/api/runs/{id}"].get.parameters[0].in = "body";
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it("documents every registered route, and every catalog entry is registered", async () => {
    const doc = (await (await fetch(`${s.url}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
    };
    const registered = createApi(s.app).endpoints();
    for (const e of registered) {
      const op = doc.paths[toOpenApi(e.path)]?.[e.method.toLowerCase()];
      expect(op, `${e.method} ${e.path}`).toBeDefined();
      // its success and its errors
      expect(Object.keys(op.responses)).toContain(String(e.status ?? 200));
      expect(Object.keys(op.responses)).toContain("500");
    }
    expect(registered.length).toBe(Object.keys(API).length);
    expect(new Set(registered)).toEqual(new Set(Object.values(API)));
  });

  it("is browsable at /api/docs, with its scripts served from this server", async () => {
    const page = await fetch(`${s.url}/api/docs`);
    expect(page.headers.get("content-type")).toContain("text/html");
    const html = await page.text();
    const scripts = [...html.matchAll(/(?:src|href)="(\/api\/docs\/[^"]+)"/g)].map((m) => m[1]);
    expect(scripts).toContain("/api/docs/swagger-ui-bundle.js");
    for (const src of scripts) {
      const r = await fetch(`${s.url}${src}`);
      expect(r.status, src).toBe(200);
      await r.arrayBuffer();
    }
    expect((await fetch(`${s.url}/api/docs/package.json`)).status).toBe(404);
    expect((await fetch(`${s.url}/api/docs/..%2Fpackage.json`)).status).toBe(400);
  });
});
