import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiClient } from "./api-client.js";
import { resolveRun } from "./run-ref.js";

/**
 * A server as old as the ones before `idPrefix` (the answer they gave, word for word): the CLI says what to do instead
 * of passing on a refusal of a query key the user never typed. The rest of resolveRun runs against the real server
 * in cli-runs.test.ts.
 */
let server: http.Server;
let api: ApiClient;
const asked: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    asked.push(req.url ?? "");
    res.writeHead(400, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { code: "BAD_REQUEST", message: 'Unrecognized key: "idPrefix"' } }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  api = new ApiClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: "t" });
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("a run's start on a server older than the CLI", () => {
  it("is refused saying to give the whole id; a whole id or an address is not looked up at all", async () => {
    await expect(resolveRun(api, "68fdbe67")).rejects.toThrow(
      `${api.url} does not look runs up by the start of their id (an older server): give the whole id`,
    );
    expect(asked).toEqual(["/api/runs?idPrefix=68fdbe67&limit=2"]);
    const id = "68fdbe67-5243-4e9b-b1fa-b88b7c72cbc7";
    expect(await resolveRun(api, id)).toBe(id);
    expect(await resolveRun(api, `${api.url}/runs/${id}`)).toBe(id);
    expect(asked).toHaveLength(1);
  });
});
