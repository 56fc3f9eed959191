import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail, RunEvent } from "../../protocol/run.js";
import { runEnds, startTestServer, type TestServer } from "../testing/harness.js";
import { RunWatcher } from "../testing/watch.js";

/**
 * A scale cycle as SlipStream's scripts see it (reference §4.1, §3.2), on real agents: the hooks that run where,
 * with SlipStream's SLIPSTREAM_SCALING_* values; `scale.state` through its lifecycle; indices never reused; mapped
 * values reaching added instances; scaling an aborted run refused as a conflict.
 */

const WORKER = `kind: image
parameters:
  - { name: head.addr, category: input }
  - { name: hooks, category: output, default: "-" }
targets:
  execute: |
    #!/bin/sh
    ss-set hooks "$(ss-get hooks) execute:$(ss-get head.addr)"
  onvmadd: |
    #!/bin/sh
    ss-set hooks "$(ss-get hooks) onvmadd:$SLIPSTREAM_SCALING_ACTION:$SLIPSTREAM_SCALING_NODE:$SLIPSTREAM_SCALING_VMS"
  onvmremove: |
    #!/bin/sh
    ss-set hooks "$(ss-get hooks) onvmremove:$SLIPSTREAM_SCALING_ACTION:$SLIPSTREAM_SCALING_VMS"
  prescale: |
    #!/bin/sh
    ss-set hooks "$(ss-get hooks) prescale:$SLIPSTREAM_SCALING_ACTION:$SLIPSTREAM_SCALING_VMS"
`;
const HEAD = `kind: image
parameters:
  - { name: addr, category: output }
targets:
  execute: |
    #!/bin/sh
    ss-set addr head-address
`;
const SYSTEM = `kind: deployment
nodes:
  head:
    image: head
  worker:
    image: worker
    multiplicity: 2
    mappings:
      head.addr: head:addr
`;

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  const res = await s.api("POST", "/api/modules/import", {
    files: [
      { path: "t/sc/worker", yaml: WORKER },
      { path: "t/sc/head", yaml: HEAD },
      { path: "t/sc/system", yaml: SYSTEM },
    ],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
});
afterAll(() => s.close({ stopInstances: true }));

async function params(runId: string): Promise<Map<string, string | null>> {
  const res = await s.api<{ params: { key: string; value: string | null }[] }>("GET", `/api/runs/${runId}/params`);
  return new Map(res.body.params.map((p) => [p.key, p.value]));
}

/** Every value `key` took, in order, from the run's events. */
function history(events: RunEvent[], key: string): (string | null)[] {
  return events.flatMap((e) => (e.body.type === "param" && e.body.key === key ? [e.body.value] : []));
}

describe("scaling a run", () => {
  it("runs each hook where SlipStream runs it, walks scale.state through its lifecycle and never reuses an index", async () => {
    const created = await s.api<RunDetail>("POST", "/api/runs", {
      module: "t/sc/system",
      scalable: true,
      keepRunning: "always",
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id;
    const watcher = new RunWatcher(s.url, s.token, id);
    await watcher.until((e) => e.body.type === "kept");

    expect((await s.api("POST", `/api/runs/${id}/scale`, { node: "worker", add: 1 })).status).toBe(200);
    await watcher.until((e, all) => e.body.type === "kept" && all.filter((x) => x.body.type === "kept").length === 2);
    expect((await s.api("POST", `/api/runs/${id}/scale`, { node: "worker", remove: [1] })).status).toBe(200);
    await watcher.until((e, all) => e.body.type === "kept" && all.filter((x) => x.body.type === "kept").length === 3);
    // worker.1's machine stops once its report is in
    await watcher.until(
      (e) => e.body.type === "param" && e.body.key === "worker.1:scale.state" && e.body.value === "gone",
    );
    expect((await s.api("POST", `/api/runs/${id}/scale`, { node: "worker", add: 1 })).status).toBe(200);
    await watcher.until((e, all) => e.body.type === "kept" && all.filter((x) => x.body.type === "kept").length === 4);

    const p = await params(id);
    expect(p.get("worker.1:hooks")).toBe(
      "- execute:head-address onvmadd:vm_create:worker:worker.3 prescale:vm_remove:worker.1",
    );
    expect(p.get("worker.2:hooks")).toBe(
      "- execute:head-address onvmadd:vm_create:worker:worker.3 onvmremove:vm_remove:worker.1 onvmadd:vm_create:worker:worker.4",
    );
    // added instances run the full recipe, with the mapped value published before they existed
    expect(p.get("worker.3:hooks")).toBe(
      "- execute:head-address onvmremove:vm_remove:worker.1 onvmadd:vm_create:worker:worker.4",
    );
    expect(p.get("worker.4:hooks")).toBe("- execute:head-address");
    expect(p.get("worker:ids")).toBe("2,3,4");
    expect(p.get("worker:multiplicity")).toBe("3");
    expect(p.get("worker.1:pre.scale.done")).toBe("true");
    expect(p.get("head.1:scale.state")).toBe("operational");
    expect(history(watcher.events, "worker.3:scale.state")).toEqual(["creating", "created", "operational"]);
    expect(history(watcher.events, "worker.1:scale.state")).toEqual([
      "creating",
      "created",
      "operational",
      "removing",
      "removed",
      "gone",
    ]);
    watcher.close();

    // an aborted run is not scaled: a conflict that says why
    expect((await s.api("POST", `/api/runs/${id}/abort`, { message: "stop here" })).status).toBe(200);
    const refused = await s.api<{ error: { code: string; message: string } }>("POST", `/api/runs/${id}/scale`, {
      node: "worker",
      add: 1,
    });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(/^the run is aborted \(stop here\): reset the abort/);
    expect((await s.api("POST", `/api/runs/${id}/terminate`)).status).toBe(200);
    await runEnds(s, id);
  });
});
