import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../protocol/run.js";
import { AgentPeer, PeerCloud, startTestServer, type TestServer } from "../server/testing/harness.js";
import { type CliEnv, cli, startCli, tempDir } from "./testing.js";

const SYSTEM = "examples/tutorials/service-testing/system";
const PEER_CLOUDS = ["--cloud", "apache=peer", "--cloud", "client=peer"];
let s: TestServer;
let cloud: PeerCloud;
let env: CliEnv;
let peers: AgentPeer[] = [];

beforeAll(async () => {
  cloud = new PeerCloud();
  s = await startTestServer({ connectors: new Map([["peer", cloud]]) });
  env = { url: s.url, configDir: await tempDir("cfg"), token: s.token };
});
afterEach(() => {
  for (const p of peers) p.close();
  peers = [];
});
afterAll(async () => {
  await s?.close({ stopInstances: true });
});

/** The peer cloud's machines of the next run: forget the previous run's launches first. */
function nextRun(): void {
  cloud.launches.clear();
}

async function peer(instance: string): Promise<AgentPeer> {
  const launch = await cloud.launched(instance);
  const p = new AgentPeer(s.url, launch.token);
  peers.push(p);
  return p;
}

/** Every peer completes each state in turn, as real agents do. */
async function complete(ps: AgentPeer[], states: ("Provisioning" | "Executing" | "SendingReports" | "Ready")[]) {
  for (const st of states) {
    const acks = await Promise.all(ps.map((p) => p.completeWhen(st)));
    for (const a of acks) expect(a.ok, JSON.stringify(a)).toBe(true);
  }
}

describe("run --wait follows the run live", () => {
  it("to Done: prints each state and completion as it happens, downloads and unpacks the reports, exits 0", async () => {
    nextRun();
    const out = await tempDir("reports");
    const proc = startCli(["run", SYSTEM, ...PEER_CLOUDS, "--wait", "--reports", out], env);
    const [, runId] = await proc.waitFor(/^Run (\S+) /m);
    expect(proc.stdout()).toContain("(keep-running: never)");
    const apache = await peer("apache.1");
    const client = await peer("client.1");
    // the CLI shows Provisioning before any machine completes it: it is live, not replayed at the end
    await proc.waitFor(/\] Provisioning\n/);
    await complete([apache], ["Provisioning"]);
    await proc.waitFor(/\] Provisioning +\(apache\.1 ✓, client\.1 …\)\n/);
    await complete([client], ["Provisioning"]);
    await complete([apache, client], ["Executing", "SendingReports", "Ready"]);
    const res = await proc.done;
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);

    const lines = res.stdout.trim().split("\n");
    expect(lines[1]).toBe(`${s.url}/runs/${runId}`);
    const states = lines.flatMap((l) => /^\[\d\d:\d\d\] (\w+)$/.exec(l)?.[1] ?? []);
    expect(states).toEqual([
      "Initializing",
      "Provisioning",
      "Executing",
      "SendingReports",
      "Ready",
      "Finalizing",
      "Done",
    ]);
    // an instance's completion shows at once; the last one shows as the next state
    expect(lines.some((l) => /\] Executing +\((apache\.1 ✓, client\.1 …|apache\.1 …, client\.1 ✓)\)$/.test(l))).toBe(
      true,
    );

    const dir = path.join(out, runId);
    const files = await fs.readdir(dir);
    const tgz = files.find((f) => /^orchestrator_report_\w+\.tgz$/.test(f));
    expect(tgz).toBeDefined();
    const unpacked = path.join(dir, tgz!.replace(/\.tgz$/, ""));
    expect((await fs.readdir(unpacked, { recursive: true })).length).toBeGreaterThan(0);
    expect(res.stdout).toContain(`report ${tgz} → ${unpacked}`);

    // reports RUN --out DIR downloads the same again
    const again = await tempDir("reports2");
    const listed = await cli(["reports", runId, "--out", again, "--json"], env);
    expect(listed.code, listed.stderr).toBe(0);
    const { reports } = JSON.parse(listed.stdout) as { reports: { name: string; dir: string }[] };
    expect(reports.map((r) => r.name)).toEqual([tgz]);
    expect(reports[0].dir).toBe(path.join(again, runId, tgz!.replace(/\.tgz$/, "")));
  });

  it("to Aborted: shows the abort as it arrives and exits 1 with the message; --json prints the final run", async () => {
    nextRun();
    const proc = startCli(["run", SYSTEM, ...PEER_CLOUDS, "--wait", "--json"], env);
    const apache = await peer("apache.1");
    const client = await peer("client.1");
    await complete([apache, client], ["Provisioning"]);
    await apache.until((st) => st.state === "Executing");
    expect((await apache.call("run:abort", { message: "apache could not start" })).ok).toBe(true);
    await proc.waitFor(/\] ABORT by apache\.1: apache could not start\n/, "stderr");
    await complete([apache, client], ["Executing", "SendingReports", "Ready"]);
    const res = await proc.done;
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/run \S+ ended Aborted: apache could not start\n$/);
    const final = JSON.parse(res.stdout) as RunDetail;
    expect(final).toMatchObject({ state: "Aborted", abort: "apache could not start", keepRunning: "never" });
  });

  it("to Cancelled when terminated before Ready: exits 1", async () => {
    nextRun();
    const proc = startCli(["run", SYSTEM, ...PEER_CLOUDS, "--wait", "--keep-running", "always"], env);
    const [, runId] = await proc.waitFor(/^Run (\S+) .*\(keep-running: always\)/m);
    await proc.waitFor(/\] Provisioning\n/);
    expect((await cli(["terminate", runId], env)).code).toBe(0);
    const res = await proc.done;
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/\] terminate requested by admin\n/);
    expect(res.stdout).toMatch(/\] Cancelled\n/);
    expect(res.stderr).toBe(`slipstream: run ${runId} ended Cancelled\n`);
  });
});

describe("params --watch and scale on a live run", () => {
  it("params --watch prints changes as they are set, until the run ends", async () => {
    nextRun();
    const created = await cli(["run", SYSTEM, ...PEER_CLOUDS, "--json"], env);
    const run = JSON.parse(created.stdout) as RunDetail;
    const apache = await peer("apache.1");
    const client = await peer("client.1");
    await complete([apache, client], ["Provisioning"]);
    await apache.until((st) => st.state === "Executing");

    const watch = startCli(["params", run.id, "--watch"], env);
    await watch.waitFor(/watching run \S+ for changes/, "stderr");
    expect(watch.stdout()).toMatch(/^apache\.1:port = \(unset\)$/m);
    const before = watch.stdout().length;
    expect((await apache.call("param:set", { key: "apache.1:port", value: "8081" })).ok).toBe(true);
    // the mapping pushes the value to the client: both changes arrive live
    await watch.waitFor(/^client\.1:webserver\.port = 8081$/m);
    expect(watch.stdout().slice(before)).toMatch(/^apache\.1:port = 8081\nclient\.1:webserver\.port = 8081\n/);
    await s.api("POST", `/api/runs/${run.id}/terminate`);
    const res = await watch.done;
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^ss:state = Cancelled$/m);
  });

  it("scale +2 adds instances and scale -ID -ID removes them", async () => {
    nextRun();
    const created = await cli(["run", SYSTEM, ...PEER_CLOUDS, "--scalable", "--json"], env);
    const run = JSON.parse(created.stdout) as RunDetail;
    const apache = await peer("apache.1");
    const client = await peer("client.1");
    await complete([apache, client], ["Provisioning", "Executing", "SendingReports", "Ready"]);
    await client.until((st) => st.state === "Ready" && st.completed);

    const add = await cli(["scale", run.id, "client", "+2"], env);
    expect(add.stderr).toBe("");
    expect(add.code).toBe(0);
    expect(add.stdout).toBe(`Run ${run.id}: adding client.2, client.3 (state Provisioning)\n`);
    const added = [await peer("client.2"), await peer("client.3")];
    await complete([apache, client, ...added], ["Provisioning", "Executing", "SendingReports", "Ready"]);
    await client.until((st) => st.state === "Ready" && st.completed);

    const unknown = await cli(["scale", run.id, "client", "-3", "-4"], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe("slipstream: remove: 'client.4' is not a live instance\n");
    const remove = await cli(["scale", run.id, "client", "-2", "-3"], env);
    expect(remove.stderr).toBe("");
    expect(remove.code).toBe(0);
    expect(remove.stdout).toBe(`Run ${run.id}: removing client.2, client.3 (state Provisioning)\n`);
    const detail = (await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
    expect(
      detail.instances
        .filter((i) => i.live)
        .map((i) => i.name)
        .sort(),
    ).toEqual(["apache.1", "client.1"]);
    await s.api("POST", `/api/runs/${run.id}/terminate`);
  });
});
