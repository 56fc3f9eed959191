import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { runEnds, startTestServer, type TestServer } from "../testing/harness.js";

/**
 * A script written for SlipStream reads the built-in keys of reference §3.2 with the keys it would use there —
 * bare names are its own instance's (`multiplicity` and `ids` its node's), `ss:` the run's — in a single image run
 * and in a deployment run, on real agents.
 */

const READER = `kind: image
parameters:
  - { name: seen, category: output }
targets:
  execute: |
    #!/bin/sh
    set -e
    out=""
    for k in ss:category ss:groups ss:state nodename id cloudservice is.orchestrator image.id image.platform vmstate multiplicity ids pre.scale.done scale.iaas.done; do
      out="$out$k=$(ss-get --noblock "$k");"
    done
    ss-set seen "$out"
`;

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  const deployment = `kind: deployment
nodes:
  worker:
    image: reader
    multiplicity: 3
`;
  const res = await s.api("POST", "/api/modules/import", {
    files: [
      { path: "t/b/reader", yaml: READER },
      { path: "t/b/workers", yaml: deployment },
    ],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
});
afterAll(() => s.close({ stopInstances: true }));

async function seen(module: string): Promise<Map<string, Record<string, string>>> {
  const created = await s.api<RunDetail>("POST", "/api/runs", { module, keepRunning: "never" });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const end = await runEnds(s, created.body.id);
  expect(end, JSON.stringify(end.abort)).toMatchObject({ state: "Done" });
  const params = (await s.api<{ params: { key: string; value: string | null }[] }>("GET", `/api/runs/${end.id}/params`))
    .body.params;
  const out = new Map<string, Record<string, string>>();
  for (const p of params.filter((q) => q.key.endsWith(":seen"))) {
    const pairs = (p.value ?? "")
      .split(";")
      .filter(Boolean)
      .map((kv) => kv.split("=") as [string, string]);
    out.set(p.key.replace(/:seen$/, ""), Object.fromEntries(pairs));
  }
  return out;
}

describe("built-in keys as SlipStream's scripts read them", () => {
  it("in a single image run", async () => {
    const got = (await seen("t/b/reader")).get("machine.1");
    expect(got).toEqual({
      "ss:category": "Image",
      "ss:groups": "local:machine",
      "ss:state": "Executing",
      nodename: "machine",
      id: "1",
      cloudservice: "local",
      "is.orchestrator": "false",
      "image.id": "t/b/reader",
      "image.platform": "linux",
      vmstate: "Running",
      multiplicity: "1",
      ids: "1",
      "pre.scale.done": "false",
      "scale.iaas.done": "false",
    });
  });

  it("in a deployment run: each of a node of 3 reads its own index and its node's multiplicity and ids", async () => {
    const got = await seen("t/b/workers");
    expect([...got.keys()].sort()).toEqual(["worker.1", "worker.2", "worker.3"]);
    for (const [name, values] of got) {
      expect(values).toMatchObject({
        "ss:category": "Deployment",
        "ss:groups": "local:worker",
        nodename: "worker",
        id: name.split(".")[1],
        multiplicity: "3",
        ids: "1,2,3",
        "image.id": "t/b/reader",
      });
    }
  });

  it("a read-only key refused says which and why", async () => {
    const created = await s.api<RunDetail>("POST", "/api/runs", { module: "t/b/reader", keepRunning: "always" });
    const res = await s.api<{ error: { message: string } }>(
      "PUT",
      `/api/runs/${created.body.id}/params/machine.1:image.id`,
      { value: "x" },
    );
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe(
      "key 'machine.1:image.id' is read-only: SlipStream sets it (the image the instance was started from: its module path)",
    );
    await s.api("POST", `/api/runs/${created.body.id}/terminate`);
    await runEnds(s, created.body.id);
  });
});
