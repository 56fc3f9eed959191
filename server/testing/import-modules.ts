import { expect } from "vitest";
import type { TestServer } from "./harness.js";

/** Imports modules as the test's admin, each YAML by its module path (POST /api/modules/import, 200 expected). */
export async function importModules(s: TestServer, files: Record<string, string>): Promise<void> {
  const res = await s.api("POST", "/api/modules/import", {
    files: Object.entries(files).map(([path, yaml]) => ({ path, yaml })),
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}
