import fs from "node:fs/promises";
import path from "node:path";
import * as tar from "tar";
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
    const proc = startCli(["run", SYSTEM, ...PEER_CLOUDS, "--wait", "--keep-running", "never", "--reports", out], env);
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
    const proc = startCli(["run", SYSTEM, ...PEER_CLOUDS, "--wait", "--keep-running", "never", "--json"], env);
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

  it("to a kept Ready: the profile's keep-running stays; it returns once kept, says how to end it, exits 0", async () => {
    nextRun();
    const out = await tempDir("kept");
    const proc = startCli(["run", SYSTEM, ...PEER_CLOUDS, "--wait", "--reports", out], env);
    const [, runId] = await proc.waitFor(/^Run (\S+) .*\(keep-running: on-success\)/m);
    const apache = await peer("apache.1");
    const client = await peer("client.1");
    await complete([apache, client], ["Provisioning", "Executing", "SendingReports", "Ready"]);
    const res = await proc.done;
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/\] Ready: machines kept up \(keep-running on-success\)\n/);
    expect(res.stdout).toContain(`its machines stay up until you run: slipstream terminate ${runId}`);
    // the kept run's orchestrator report is already there
    expect((await fs.readdir(path.join(out, runId))).some((f) => /^orchestrator_report_\w+\.tgz$/.test(f))).toBe(true);
    expect((await cli(["terminate", runId], env)).code).toBe(0);
  });

  it("to a kept Ready after an abort (keep-running on-error): exits 1 with the abort", async () => {
    nextRun();
    const proc = startCli(["run", SYSTEM, ...PEER_CLOUDS, "--wait", "--keep-running", "on-error"], env);
    const [, runId] = await proc.waitFor(/^Run (\S+) /m);
    const apache = await peer("apache.1");
    const client = await peer("client.1");
    await complete([apache, client], ["Provisioning"]);
    await client.until((st) => st.state === "Executing");
    expect((await client.call("run:abort", { message: "no page" })).ok).toBe(true);
    await complete([apache, client], ["Executing", "SendingReports", "Ready"]);
    const res = await proc.done;
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`slipstream terminate ${runId}`);
    expect(res.stderr).toBe(`slipstream: run ${runId} aborted: no page\n`);
    expect((await cli(["terminate", runId], env)).code).toBe(0);
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

/** C0 and C1 controls but newline and tab: none may reach the terminal. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

describe("text recipes wrote cannot drive the terminal (security.md F19)", () => {
  it("ss-display values and abort messages print without escape sequences in run --wait and status", async () => {
    nextRun();
    // set the window title, clear the screen; then an 8-bit CSI
    const evil = "\u001b]0;owned\u0007\u001b[2J";
    const proc = startCli(["run", SYSTEM, ...PEER_CLOUDS, "--wait"], env);
    const [, runId] = await proc.waitFor(/^Run (\S+) /m);
    const apache = await peer("apache.1");
    const client = await peer("client.1");
    await complete([apache, client], ["Provisioning"]);
    await apache.until((st) => st.state === "Executing");
    const shown = await apache.call("param:set", { key: "apache.1:statecustom", value: `up${evil}\u009b31m red` });
    expect(shown.ok, JSON.stringify(shown)).toBe(true);
    await proc.waitFor(/apache\.1: up/);
    expect((await client.call("run:abort", { message: `no page${evil}` })).ok).toBe(true);
    await proc.waitFor(/ABORT by client\.1: no page/);
    const status = await cli(["status", runId], env);
    const params = await cli(["params", runId], env);
    await complete([apache, client], ["Executing", "SendingReports", "Ready"]);
    const res = await proc.done;
    expect(res.code).toBe(1);
    for (const out of [res.stdout, res.stderr, status.stdout, status.stderr, params.stdout]) {
      expect(out).not.toMatch(CONTROL);
    }
    expect(res.stdout).toMatch(/\] apache\.1: up red\n/);
    expect(res.stderr).toMatch(/ended Aborted: no page\n$/);
    expect(status.stdout).toContain("ABORTED: no page\n");
    expect(status.stdout).toContain('"up red"');
    expect(params.stdout).toMatch(/^apache\.1:statecustom = up red$/m);
  });
});

describe("reports --out unpacks files and directories only (security.md F20)", () => {
  it("skips links, saying which, drops set-uid bits and owners", async () => {
    nextRun();
    const created = await cli(["run", SYSTEM, ...PEER_CLOUDS, "--json"], env);
    const run = JSON.parse(created.stdout) as RunDetail;
    const launch = await cloud.launched("apache.1");
    // a hand-made tarball, as a stolen agent token could send: a symlink out, a hard link, a set-uid file of another owner
    const src = await tempDir("evil-src");
    await fs.mkdir(path.join(src, "logs"));
    await fs.writeFile(path.join(src, "logs", "ok.txt"), "fine\n");
    await fs.writeFile(path.join(src, "tool"), "#!/bin/sh\n", { mode: 0o755 });
    await fs.chmod(path.join(src, "tool"), 0o4755);
    if (process.getuid?.() === 0) await fs.chown(path.join(src, "tool"), 4321, 4321);
    await fs.symlink("/etc", path.join(src, "etc"));
    await fs.writeFile(path.join(src, "target.txt"), "t\n");
    await fs.link(path.join(src, "target.txt"), path.join(src, "hard.txt"));
    const tarball = path.join(await tempDir("evil-tgz"), "evil.tgz");
    await tar.c({ gzip: true, cwd: src, file: tarball }, ["target.txt", "logs", "tool", "etc", "hard.txt"]);
    const name = "apache.1_report_20260101T000000Z.tgz";
    const body = await fs.readFile(tarball);
    const up = await fetch(`${s.url}/api/agent/reports?name=${name}`, {
      method: "POST",
      headers: { authorization: `Bearer ${launch.token}`, "content-type": "application/gzip" },
      body,
    });
    expect(up.status, await up.clone().text()).toBe(201);

    const out = await tempDir("evil-out");
    const res = await cli(["reports", run.id, "--out", out], env);
    expect(res.code, res.stderr).toBe(0);
    const dir = path.join(out, run.id, name.replace(/\.tgz$/, ""));
    expect(res.stdout).toContain("not unpacked (only files and directories are): ");
    expect(res.stdout).toContain("etc (SymbolicLink → /etc)");
    expect(res.stdout).toContain("hard.txt (Link → target.txt)");
    await expect(fs.lstat(path.join(dir, "etc"))).rejects.toThrow(/ENOENT/);
    await expect(fs.lstat(path.join(dir, "hard.txt"))).rejects.toThrow(/ENOENT/);
    expect(await fs.readFile(path.join(dir, "logs", "ok.txt"), "utf8")).toBe("fine\n");
    const tool = await fs.stat(path.join(dir, "tool"));
    expect(tool.mode & 0o7777).toBe(0o755);
    expect(tool.uid).toBe(process.getuid?.());
    expect((await fs.stat(path.join(dir, "logs"))).mode & 0o7777).toBe(0o755);
    expect((await fs.stat(path.join(dir, "logs", "ok.txt"))).mode & 0o7777).toBe(0o644);
    await s.api("POST", `/api/runs/${run.id}/terminate`);
  });
});

describe("a run named as the page shows it: the start of its id, or its page's address", () => {
  it("status, terminate and diff take either; an unknown or shared start and another server's address are refused", async () => {
    nextRun();
    const launched = await cli(["run", SYSTEM, ...PEER_CLOUDS], env);
    expect(launched.code, launched.stderr).toBe(0);
    const [, id, address] = /^Run (\S+) .*\n(\S+)\n/.exec(launched.stdout) ?? [];
    expect(address).toBe(`${s.url}/runs/${id}`);

    // the page's address as `run` printed it, and the 8 characters the page shows (in either case)
    for (const ref of [address, id.slice(0, 8), id.slice(0, 8).toUpperCase(), id.toUpperCase()]) {
      const res = await cli(["status", ref], env);
      expect(res.code, `${ref}: ${res.stderr}`).toBe(0);
      expect(res.stdout).toContain(`Run ${id}  ${SYSTEM}`);
    }

    // runs until two ids start with the same character (at most 17 of them)
    const all = async () => (await s.api<{ runs: RunDetail[] }>("GET", "/api/runs?limit=1000")).body.runs;
    let runs = await all();
    const sharedStart = () => runs.map((r) => r.id[0]).find((c, i, cs) => cs.indexOf(c) !== i);
    while (!sharedStart()) {
      const made = await s.api("POST", "/api/runs", { module: SYSTEM, clouds: { apache: "peer", client: "peer" } });
      expect(made.status, JSON.stringify(made.body)).toBe(201);
      runs = await all();
    }
    const shared = sharedStart() as string;
    const sharing = await cli(["status", shared], env);
    expect(sharing.code).toBe(2);
    expect(sharing.stderr).toMatch(new RegExp(`^slipstream: '${shared}' starts the ids of more than one run \\(`));

    // a start no id has (one character changed in a long start of this run's)
    const other = [..."0123456789abcdef"]
      .map((c) => `${id.slice(0, 12)}${c}`)
      .find((p) => !runs.some((r) => r.id.startsWith(p)));
    const none = await cli(["status", other as string], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toBe(`slipstream: no run's id starts with '${other}'\n`);

    const elsewhere = await cli(["status", `http://runs.example.org/runs/${id}`], env);
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.stderr).toContain(`add --url http://runs.example.org`);

    // two runs of the module side by side, one by its start, one by its address
    const second = runs.find((r) => r.id !== id && r.module === SYSTEM) as RunDetail;
    const diff = await cli(["diff", id.slice(0, 8), `${s.url}/runs/${second.id}`], env);
    expect(diff.code, diff.stderr).toBe(0);
    expect(diff.stdout).toMatch(new RegExp(`run\\s+${id}\\s+${second.id}`));

    const stop = await cli(["terminate", id.slice(0, 8)], env);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toMatch(new RegExp(`^Run ${id}: terminating`));
  });
});
