import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { PeerCloud, runEnds, startTestServer, type TestServer } from "../testing/harness.js";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ connectors: new Map([["peer", new PeerCloud()]]) });
});
afterAll(async () => {
  await s.close();
});

/** Row counts of every table: "nothing changed" means these stay equal. */
function counts(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of ["users", "api_tokens", "modules", "runs", "instances", "params", "events", "reports"]) {
    out[t] = (s.app.db.$client.prepare(`select count(*) as n from ${t}`).get() as { n: number }).n;
  }
  return out;
}

describe("authentication", () => {
  it("no API call works without a valid token", async () => {
    for (const [method, url] of [
      ["GET", "/api/modules"],
      ["GET", "/api/runs"],
      ["POST", "/api/runs"],
      ["GET", "/api/me"],
    ]) {
      expect((await s.api(method, url, undefined, null)).status).toBe(401);
      expect((await s.api(method, url, undefined, "ss_bogus")).status).toBe(401);
    }
  });
  it("a wrong password is refused without saying which part was wrong", async () => {
    const res = await s.api<{ error: { message: string } }>(
      "POST",
      "/api/auth/login",
      { username: "admin", password: "nope" },
      null,
    );
    expect(res.status).toBe(401);
    expect(res.body.error.message).toBe("wrong username or password");
  });
  it("a revoked token stops working at once", async () => {
    const login = await s.api<{ token: string }>(
      "POST",
      "/api/auth/login",
      { username: "admin", password: "test-admin-password" },
      null,
    );
    expect((await s.api("GET", "/api/me", undefined, login.body.token)).status).toBe(200);
    expect((await s.api("POST", "/api/auth/logout", undefined, login.body.token)).status).toBe(200);
    expect((await s.api("GET", "/api/me", undefined, login.body.token)).status).toBe(401);
  });
});

describe("modules", () => {
  it("the examples are seeded on first start and export as YAML", async () => {
    const list = await s.api<{ modules: { path: string; kind: string }[] }>("GET", "/api/modules");
    const paths = list.body.modules.map((m) => m.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "examples/tutorials/service-testing/apache",
        "examples/tutorials/service-testing/client",
        "examples/tutorials/service-testing/system",
      ]),
    );
    const res = await fetch(`${s.url}/api/modules/examples/tutorials/service-testing/system?format=yaml`, {
      headers: { authorization: `Bearer ${s.token}` },
    });
    const text = await res.text();
    expect(text).toContain("kind: deployment");
    expect(text).toContain("webserver.hostname: apache:hostname");
  });

  const bad: [string, unknown, RegExp][] = [
    ["malformed YAML", { files: [{ path: "t/bad", yaml: "kind: image\n  targets: [" }] }, /t\/bad\.yaml: line \d+/],
    ["an unknown field", { files: [{ path: "t/bad", yaml: "kind: image\ntargetz: {}\n" }] }, /targetz/],
    [
      "a mapping to a missing output",
      {
        files: [
          { path: "t/img", yaml: "kind: image\nparameters:\n  - { name: x, category: input }\n" },
          {
            path: "t/dep",
            yaml: "kind: deployment\nnodes:\n  a: { image: img, mappings: { x: 'b:nope' } }\n  b: { image: img, mappings: { x: \"'1'\" } }\n",
          },
        ],
      },
      /nodes\.a\.mappings\.x/,
    ],
    [
      "a negative multiplicity",
      {
        files: [
          {
            path: "t/dep2",
            yaml: "kind: deployment\nnodes:\n  a: { image: /examples/tutorials/service-testing/apache, multiplicity: -1 }\n",
          },
        ],
      },
      /nodes\.a\.multiplicity/,
    ],
    ["a bad module path", { files: [{ path: "../x", yaml: "kind: project\n" }] }, /files\[0\]\.path/],
  ];
  for (const [what, body, message] of bad) {
    it(`import with ${what} is refused naming the field, and nothing is saved`, async () => {
      const before = counts();
      const res = await s.api<{ error: { code: string; message: string } }>("POST", "/api/modules/import", body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("BAD_REQUEST");
      expect(res.body.error.message).toMatch(message);
      expect(counts()).toEqual(before);
    });
  }
});

describe("runs: a node of 0", () => {
  it("is taken in a scalable run, which can add to it later", async () => {
    const res = await s.api<{ id: string; instances: { node: string }[] }>("POST", "/api/runs", {
      module: "examples/tutorials/service-testing/system",
      multiplicity: { client: 0 },
      clouds: { apache: "peer", client: "peer" },
      scalable: true,
      keepRunning: "never",
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.instances.map((i) => i.node)).toEqual(["apache"]);
    expect((await s.api("POST", `/api/runs/${res.body.id}/terminate`)).status).toBe(200);
    // ended before the next test counts what it changes
    expect((await runEnds(s, res.body.id)).state).toBe("Cancelled");
  });
});

describe("runs: bad input changes nothing", () => {
  const cases: [string, unknown, RegExp][] = [
    ["an unknown module", { module: "no/such" }, /not found/],
    ["an unknown field", { module: "examples/tutorials/service-testing/system", colour: "red" }, /colour/],
    [
      "a negative multiplicity",
      { module: "examples/tutorials/service-testing/system", multiplicity: { client: -1 } },
      /multiplicity\.client/,
    ],
    [
      "multiplicity 0 on a run that is not scalable (it could never have that node)",
      { module: "examples/tutorials/service-testing/system", multiplicity: { client: 0 } },
      /^multiplicity\.client: 0 instances only in a scalable run/,
    ],
    [
      "an unknown node",
      { module: "examples/tutorials/service-testing/system", multiplicity: { db: 2 } },
      /multiplicity\.db/,
    ],
    [
      "an unknown cloud",
      { module: "examples/tutorials/service-testing/system", clouds: { client: "mars" } },
      /clouds\.client: unknown cloud 'mars'/,
    ],
    [
      "an override of an output",
      { module: "examples/tutorials/service-testing/system", params: { "apache:port": "1" } },
      /params\.apache:port/,
    ],
    [
      "an oversize value",
      { module: "examples/tutorials/service-testing/system", params: { "client:webserver.port": "x".repeat(4097) } },
      /4096/,
    ],
    [
      "a bad keep-running mode",
      { module: "examples/tutorials/service-testing/system", keepRunning: "sometimes" },
      /keepRunning/,
    ],
  ];
  for (const [what, body, message] of cases) {
    it(`creating a run with ${what} is refused`, async () => {
      const before = counts();
      const res = await s.api<{ error: { message: string } }>("POST", "/api/runs", body);
      expect([400, 404]).toContain(res.status);
      expect(res.body.error.message).toMatch(message);
      expect(counts()).toEqual(before);
    });
  }

  it("invalid JSON is a 400 naming the body", async () => {
    const res = await fetch(`${s.url}/api/runs`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.token}`, "content-type": "application/json" },
      body: "{not json",
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/^body: invalid JSON/);
  });

  it("setting a bad key, an oversize value or a read-only key is refused and nothing changes", async () => {
    const run = (
      await s.api<RunDetail>("POST", "/api/runs", {
        module: "examples/tutorials/service-testing/system",
        clouds: { apache: "peer", client: "peer" },
      })
    ).body;
    const before = counts();
    const put = (key: string, value: unknown) =>
      s.api<{ error: { code: string; message: string } }>("PUT", `/api/runs/${run.id}/params/${key}`, { value });
    expect((await put("client.1:nope", "x")).body.error).toEqual({
      code: "UNKNOWN_KEY",
      message: "unknown key 'client.1:nope'",
    });
    expect((await put("bad key", "x")).body.error.code).toBe("UNKNOWN_KEY");
    expect((await put("client.1:statecustom", "x".repeat(4097))).body.error.message).toMatch(/value: .*4096/);
    expect((await put("ss:state", "Done")).body.error.message).toMatch(/read-only/);
    expect((await put("client.1:statecustom", 5)).body.error.message).toMatch(/value/);
    expect(counts()).toEqual(before);
    // a human's set is fine and recorded with their name
    expect((await put("client.1:statecustom", "checked by hand")).status).toBe(200);
    const events = (
      await s.api<{ events: { actor: string; body: { key?: string } }[] }>(
        "GET",
        `/api/runs/${run.id}/events?type=param`,
      )
    ).body.events;
    expect(events.at(-1)).toMatchObject({ actor: "user:admin", body: { key: "client.1:statecustom" } });
  });

  it("wrong state transitions are conflicts: reset without abort, scale a non-scalable run", async () => {
    const run = (
      await s.api<RunDetail>("POST", "/api/runs", {
        module: "examples/tutorials/service-testing/system",
        clouds: { apache: "peer", client: "peer" },
      })
    ).body;
    const before = counts();
    expect((await s.api("POST", `/api/runs/${run.id}/abort/cancel`)).status).toBe(409);
    expect((await s.api("POST", `/api/runs/${run.id}/scale`, { node: "client", add: 1 })).status).toBe(409);
    expect((await s.api("POST", `/api/runs/${run.id}/scale`, { node: "client" })).status).toBe(400);
    expect(counts()).toEqual(before);
  });
});
