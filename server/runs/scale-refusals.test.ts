import { describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { completeThrough, PeerCloud } from "../testing/harness.js";
import { serverPerTest } from "../testing/per-test.js";

/** A scale the server refuses names its field (in `fields`, for the run page's form), as every refusal does. */
const t = serverPerTest();
type Refusal = { error: { code: string; message: string; fields?: Record<string, string> } };

async function readyScalableRun() {
  const cloud = new PeerCloud();
  const s = await t.boot(cloud);
  const res = await s.api<RunDetail>("POST", "/api/runs", {
    module: "examples/tutorials/service-testing/apache",
    clouds: { machine: "peer" },
    scalable: true,
    keepRunning: "always",
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const peer = t.peer((await cloud.launched("machine.1")).token);
  await completeThrough([peer], ["Provisioning", "Executing", "SendingReports"]);
  await peer.until((st) => st.state === "Ready");
  return { s, cloud, peer, runId: res.body.id };
}

describe("scale refusals", () => {
  it("name their field: an unknown node, an instance that is not live, a limit reached", async () => {
    const { s, runId } = await readyScalableRun();
    const scale = (body: unknown) => s.api<Refusal>("POST", `/api/runs/${runId}/scale`, body);
    const unknown = await scale({ node: "nope", add: 1 });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.fields).toEqual({ node: "no node 'nope' in this run" });
    const notLive = await scale({ node: "machine", remove: [7] });
    expect(notLive.body.error.fields).toEqual({ remove: "'machine.7' is not a live instance" });
    const limited = await s.api("PUT", "/api/settings/limits", { instancesPerRun: 2 });
    expect(limited.status).toBe(200);
    const over = await scale({ node: "machine", add: 2 });
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe("LIMIT_EXCEEDED");
    expect(Object.keys(over.body.error.fields ?? {})).toEqual(["add"]);
  });

  it("an instance given twice to remove is removed once", async () => {
    const { s, cloud, peer, runId } = await readyScalableRun();
    const scale = (body: unknown) => s.api<RunDetail & { changed: string[] }>("POST", `/api/runs/${runId}/scale`, body);
    const grown = await scale({ node: "machine", add: 1 });
    expect(grown.status, JSON.stringify(grown.body)).toBe(200);
    expect(grown.body.changed).toEqual(["machine.2"]);
    const added = t.peer((await cloud.launched("machine.2")).token);
    await completeThrough([peer, added], ["Provisioning", "Executing", "SendingReports"]);
    await peer.until((st) => st.state === "Ready" && st.seq > grown.body.lastSeq);
    const shrunk = await scale({ node: "machine", remove: [2, 2] });
    expect(shrunk.status, JSON.stringify(shrunk.body)).toBe(200);
    expect(shrunk.body.changed).toEqual(["machine.2"]);
  });
});
