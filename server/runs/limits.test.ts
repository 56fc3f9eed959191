import http from "node:http";
import { describe, expect, it } from "vitest";
import type { Limits } from "../../protocol/limits.js";
import type { RunDetail } from "../../protocol/run.js";
import { addMember } from "../http/team-fixtures.js";
import { PeerCloud, type TestServer } from "../testing/harness.js";
import { serverPerTest, tutorialRun } from "../testing/per-test.js";
import { tgzOf } from "../testing/reports.js";

/** Every limit of protocol/limits.ts, hit for real: a clear refusal naming the limit, and nothing else changed. */

const t = serverPerTest();
type Err = { error: { code: string; message: string } };

async function setLimits(s: TestServer, patch: Partial<Limits>) {
  const res = await s.api<{ limits: Limits }>("PUT", "/api/settings/limits", patch);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.limits;
}

/** The tutorial with both peers connected and executing: client.1 is the agent that writes. */
async function executing(s: TestServer, cloud: PeerCloud) {
  const run = await tutorialRun(s, { keepRunning: "always" });
  const apache = t.peer((await cloud.launched("apache.1")).token);
  const client = t.peer((await cloud.launched("client.1")).token);
  await Promise.all([apache.completeWhen("Provisioning"), client.completeWhen("Provisioning")]);
  await client.until((st) => st.state === "Executing");
  return { run, apache, client, token: (await cloud.launched("client.1")).token };
}

function upload(s: TestServer, token: string, name: string, bytes: number): Promise<{ status: number; body: Err }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${s.url}/api/agent/reports?name=${name}`,
      { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/gzip" } },
      (res) => {
        let text = "";
        res.on("data", (c) => {
          text += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on("error", reject);
    tgzOf(bytes).then((body) => req.end(body), reject);
  });
}

describe("limits", () => {
  it("every member reads them; only an admin changes them, field by field, and a restart keeps the change", async () => {
    const cloud = new PeerCloud();
    const s = await t.boot(cloud);
    const bob = await addMember(s, "bob");
    const read = await s.api<{ limits: Limits }>("GET", "/api/settings/limits", undefined, bob.token);
    expect(read.status).toBe(200);
    expect(read.body.limits.logBytesPerInstance).toBe(8 * 1024 * 1024);
    const refused = await s.api<Err>("PUT", "/api/settings/limits", { instancesPerRun: 2 }, bob.token);
    expect(refused.status).toBe(403);
    const bad = await s.api<Err>("PUT", "/api/settings/limits", { instancesPerRun: 0, nope: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/instancesPerRun|nope/);
    expect((await setLimits(s, { instancesPerRun: 7 })).instancesPerRun).toBe(7);
    const dataDir = s.dataDir;
    await t.stop();
    const again = await t.boot(cloud, dataDir);
    const after = await again.api<{ limits: Limits; changed: { by: string } }>("GET", "/api/settings/limits");
    expect(after.body.limits.instancesPerRun).toBe(7);
    expect(after.body.changed.by).toBe("admin");
  });

  it("instances per run and per user: a run over them is refused before anything starts", async () => {
    const cloud = new PeerCloud();
    const s = await t.boot(cloud);
    await setLimits(s, { instancesPerRun: 3, activeInstancesPerUser: 4 });
    const big = await s.api<Err>("POST", "/api/runs", {
      module: "examples/tutorials/service-testing/system",
      clouds: { apache: "peer", client: "peer" },
      multiplicity: { client: 5 },
    });
    expect(big.status).toBe(429);
    expect(big.body.error.code).toBe("LIMIT_EXCEEDED");
    expect(big.body.error.message).toMatch(/^multiplicity: a run may have at most 3 instances; this one would have 6/);
    expect(big.body.error.message).toContain("instancesPerRun");
    expect(cloud.launches.size).toBe(0);
    await tutorialRun(s, { keepRunning: "always" }); // 2 instances
    const third = await s.api<Err>("POST", "/api/runs", {
      module: "examples/tutorials/service-testing/system",
      clouds: { apache: "peer", client: "peer" },
      multiplicity: { client: 2 },
    });
    expect(third.status).toBe(429);
    expect(third.body.error.message).toMatch(/admin's unfinished runs have 2 instances and may have at most 4/);
  });

  it("parameter values, parameter writes and open waits of an agent", async () => {
    const cloud = new PeerCloud();
    const s = await t.boot(cloud);
    await setLimits(s, { paramValueBytes: 256, eventsPerRun: 1000, waitsPerInstance: 2 });
    const { run, client } = await executing(s, cloud);
    const long = await client.call("param:set", {
      requestId: "v",
      key: "client.1:statecustom",
      value: "x".repeat(300),
    });
    expect(long).toMatchObject({ ok: false, error: { code: "LIMIT_EXCEEDED" } });
    expect(JSON.stringify(long)).toContain("paramValueBytes");

    const w1 = client.call("param:get", { requestId: "w1", key: "apache.1:ready", timeout: 0 });
    const w2 = client.call("param:get", { requestId: "w2", key: "apache.1:ready", timeout: 0 });
    const w3 = await client.call("param:get", { requestId: "w3", key: "apache.1:ready", timeout: 0 });
    expect(w3).toMatchObject({ ok: false, error: { code: "LIMIT_EXCEEDED" } });
    expect(JSON.stringify(w3)).toContain("waitsPerInstance");
    await client.call("param:cancel", { wait: "w1" });
    await client.call("param:cancel", { wait: "w2" });
    await Promise.all([w1, w2]);

    let refused: unknown = null;
    for (let i = 0; i < 1100 && !refused; i++) {
      const ack = await client.call("param:set", { requestId: `s${i}`, key: "client.1:statecustom", value: `${i}` });
      if (!ack.ok) refused = ack;
    }
    expect(refused).toMatchObject({ ok: false, error: { code: "LIMIT_EXCEEDED" } });
    expect(JSON.stringify(refused)).toContain("eventsPerRun");
    const rt = s.app.runs.get(run.id);
    expect(rt.counted).toBe(1000);
    // the state machine is not a parameter write: the run still moves on
    expect((await s.api<RunDetail>("POST", `/api/runs/${run.id}/terminate`)).status).toBe(200);
  });

  it("reports: their number per instance and the size of each", async () => {
    const cloud = new PeerCloud();
    const s = await t.boot(cloud);
    await setLimits(s, { reportsPerInstance: 1, reportBytes: 1024 * 1024 });
    const { token } = await executing(s, cloud);
    expect((await upload(s, token, "client.1_report_1.tgz", 1000)).status).toBe(201);
    // the same name again replaces it: not a second report
    expect((await upload(s, token, "client.1_report_1.tgz", 2000)).status).toBe(201);
    const second = await upload(s, token, "client.1_report_2.tgz", 1000);
    expect(second.status).toBe(429);
    expect(second.body.error.message).toContain("reportsPerInstance");
    const big = await upload(s, token, "client.1_report_1.tgz", 2 * 1024 * 1024);
    expect(big.status).toBe(413);
    expect(big.body.error.message).toContain("reportBytes");
  });
});
