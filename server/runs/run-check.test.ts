import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliEnv, cli, tempDir } from "../../cli/testing.js";
import type { RunCheckResult } from "../../protocol/run-check.js";
import { PeerCloud, startTestServer, type TestServer } from "../testing/harness.js";

let s: TestServer;
let cloud: PeerCloud;
let env: CliEnv;
beforeAll(async () => {
  cloud = new PeerCloud();
  s = await startTestServer({ connectors: new Map([["peer", cloud]]) });
  env = { url: s.url, configDir: await tempDir("cfg"), token: s.token };
  const res = await s.api("POST", "/api/modules/import", {
    files: [
      {
        path: "dry/server",
        yaml: `kind: image
parameters:
  - { name: ready, category: output }
  - { name: port, category: output }
targets:
  execute: |
    #!/bin/sh
    ss-get client:go
    ss-set ready true
    ss-set port 8080
`,
      },
      {
        path: "dry/client",
        yaml: `kind: image
parameters:
  - { name: server.port, category: input }
  - { name: go, category: output }
targets:
  execute: |
    #!/bin/sh
    ss-display "waiting for the server"
    ss-get server:raedy
    ss-get server.port
    ss-set go yes
`,
      },
      {
        path: "dry/system",
        yaml: `kind: deployment
nodes:
  server: { image: server, cloud: peer }
  client: { image: client, cloud: peer, mappings: { server.port: 'server:port' } }
`,
      },
      {
        path: "dry/fine",
        yaml: `kind: image
parameters:
  - { name: out, category: output }
targets:
  execute: |
    ss-set out 1
    echo "$(ss-get out)"
`,
      },
    ],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
});
afterAll(async () => {
  await s?.close({ stopInstances: true });
});

/** Row counts of the run tables: a dry run leaves them as they were. */
function counts(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of ["runs", "instances", "params", "events"]) {
    out[t] = (s.app.db.$client.prepare(`select count(*) as n from ${t}`).get() as { n: number }).n;
  }
  return out;
}

describe("a dry run (POST /api/runs/check)", () => {
  it("finds a misspelt key and a two-node wait cycle without starting an instance", async () => {
    const before = counts();
    const res = await s.api<RunCheckResult>("POST", "/api/runs/check", { module: "dry/system" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.ok).toBe(false);
    const errors = res.body.findings.filter((f) => f.severity === "error");
    expect(errors).toContainEqual({
      severity: "error",
      node: "client",
      target: "execute",
      line: 3,
      key: "server:raedy",
      message: expect.stringContaining("has no parameter 'raedy' (did you mean 'ready'?)"),
    });
    // server waits for client:go before it sets port; client waits for server.port (mapped from server:port) first
    const cycle = errors.find((f) => f.message.startsWith("static wait cycle"));
    expect(cycle?.message).toMatch(
      /between client and server: client waits for client:server\.port \(execute line 4\) before it sets client:go \(execute line 5\); server waits for client:go \(execute line 2\) before it sets server:port \(execute line 4\)/,
    );
    expect(counts()).toEqual(before);
    expect(cloud.launches.size).toBe(0);
  });

  it("reports what POST /api/runs would refuse as findings naming the node: unknown cloud, unknown input", async () => {
    const res = await s.api<RunCheckResult>("POST", "/api/runs/check", {
      module: "dry/system",
      clouds: { client: "nowhere" },
    });
    expect(res.body.ok).toBe(false);
    expect(res.body.findings[0]).toMatchObject({ severity: "error", node: "client", target: null, line: null });
    expect(res.body.findings[0].message).toMatch(/clouds\.client: unknown cloud 'nowhere'/);
    const params = await s.api<RunCheckResult>("POST", "/api/runs/check", {
      module: "dry/fine",
      params: { "machine:nope": "1" },
    });
    expect(params.body.findings[0]).toMatchObject({ node: "machine", key: "machine:nope" });
    // a body the schema refuses is a 400 naming the field, as for POST /api/runs
    const bad = await s.api<{ error: { message: string } }>("POST", "/api/runs/check", {
      module: "dry/fine",
      tags: [" "],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/tags/);
  });

  it("a run that can work is ok; `run --dry-run` exits 0 for it and 2 with the findings otherwise, starting nothing", async () => {
    const ok = await s.api<RunCheckResult>("POST", "/api/runs/check", {
      module: "dry/fine",
      clouds: { machine: "peer" },
    });
    expect(ok.body).toEqual({ ok: true, findings: [] });
    const before = counts();
    const good = await cli(["run", "dry/fine", "--cloud", "machine=peer", "--dry-run"], env);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/dry\/fine: 0 error\(s\), 0 other finding\(s\); the run can start/);
    const badRun = await cli(["run", "dry/system", "--dry-run"], env);
    expect(badRun.code).toBe(2);
    expect(badRun.stdout).toContain("error client execute:3 server:raedy: ");
    expect(badRun.stdout).toMatch(/static wait cycle between client and server/);
    expect(badRun.stderr).toMatch(/dry run of dry\/system: 2 error\(s\); nothing was started/);
    expect(counts()).toEqual(before);
    expect(cloud.launches.size).toBe(0);
  });
});
