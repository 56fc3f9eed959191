import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { PeerCloud, startTestServer, type TestServer } from "../testing/harness.js";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ connectors: new Map([["peer", new PeerCloud()]]) });
});
afterAll(async () => {
  await s.close();
});

/** Row counts of the run tables: "nothing changed" means these stay equal. */
function counts(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of ["runs", "instances", "params", "events", "reports"]) {
    out[t] = (s.app.db.$client.prepare(`select count(*) as n from ${t}`).get() as { n: number }).n;
  }
  return out;
}

async function importYaml(files: { path: string; yaml: string }[]) {
  const res = await s.api("POST", "/api/modules/import", { files });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

const SERVER_WITH_PORT = "kind: image\nparameters:\n  - { name: port, category: output }\n";
const CLIENT = "kind: image\nparameters:\n  - { name: server.port, category: input }\n";

describe("run creation validates the deployment against its images as saved now", () => {
  it("an image saved without an output a mapping reads: the run is refused naming the field, nothing is written", async () => {
    await importYaml([
      { path: "v/server", yaml: SERVER_WITH_PORT },
      { path: "v/client", yaml: CLIENT },
      {
        path: "v/system",
        yaml: "kind: deployment\nnodes:\n  server: { image: server, cloud: peer }\n  client: { image: client, cloud: peer, mappings: { server.port: 'server:port' } }\n",
      },
    ]);
    // saving the image alone is accepted: only the image is checked
    await importYaml([{ path: "v/server", yaml: "kind: image\nparameters: []\n" }]);

    const before = counts();
    const res = await s.api<{ error: { code: string; message: string } }>("POST", "/api/runs", { module: "v/system" });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("BAD_REQUEST");
    expect(res.body.error.message).toMatch(
      /nodes\.client\.mappings\.server\.port: server has no output parameter 'port'/,
    );
    expect(counts()).toEqual(before);

    // the image fixed again: the same request creates the run
    await importYaml([{ path: "v/server", yaml: SERVER_WITH_PORT }]);
    const ok = await s.api<RunDetail>("POST", "/api/runs", { module: "v/system" });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(await s.api("POST", `/api/runs/${ok.body.id}/terminate`)).toMatchObject({ status: 200 });
  });

  it("an image saved with a new input that has no default and is not mapped: the run is refused", async () => {
    await importYaml([
      { path: "w/server", yaml: SERVER_WITH_PORT },
      { path: "w/system", yaml: "kind: deployment\nnodes:\n  server: { image: server, cloud: peer }\n" },
    ]);
    await importYaml([
      {
        path: "w/server",
        yaml: `${SERVER_WITH_PORT}  - { name: region, category: input }\n`,
      },
    ]);
    const before = counts();
    const res = await s.api<{ error: { code: string; message: string } }>("POST", "/api/runs", { module: "w/system" });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/nodes\.server\.mappings\.region: input 'region' has no default/);
    expect(counts()).toEqual(before);
  });
});
