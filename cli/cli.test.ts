import fs from "node:fs/promises";
import http from "node:http";
import type net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ModuleRecord } from "../protocol/modules.js";
import type { RunDetail, RunSummary } from "../protocol/run.js";
import { addMember } from "../server/http/team-fixtures.js";
import { freePort } from "../server/testing/free-port.js";
import { ADMIN_PASSWORD, AgentPeer, PeerCloud, startTestServer, type TestServer } from "../server/testing/harness.js";
import { type CliEnv, cli, tempDir } from "./testing.js";

const SYSTEM = "examples/tutorials/service-testing/system";
let s: TestServer;
let cloud: PeerCloud;
/** signed in through SLIPSTREAM_TOKEN */
let env: CliEnv;

beforeAll(async () => {
  cloud = new PeerCloud();
  s = await startTestServer({ connectors: new Map([["peer", cloud]]) });
  env = { url: s.url, configDir: await tempDir("cfg"), token: s.token };
});
afterAll(async () => {
  for (const p of peers) p.close();
  await s?.close();
});
const peers: AgentPeer[] = [];

describe("login and credentials", () => {
  it("login --password-stdin stores url, token and username readable by the owner only", async () => {
    const configDir = path.join(await tempDir("login"), "nested");
    const res = await cli(
      ["login", "--username", "admin", "--password-stdin"],
      { url: s.url, configDir },
      {
        input: `${ADMIN_PASSWORD}\n`,
      },
    );
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`Signed in to ${s.url} as admin`);
    const file = path.join(configDir, "config.json");
    const stored = JSON.parse(await fs.readFile(file, "utf8"));
    expect(stored).toEqual({ url: s.url, token: expect.any(String), username: "admin" });
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    expect((await fs.stat(configDir)).mode & 0o777).toBe(0o700);
    // the stored login is used without SLIPSTREAM_TOKEN
    const runs = await cli(["runs", "--json"], { url: s.url, configDir });
    expect(runs.code, runs.stderr).toBe(0);
    expect(JSON.parse(runs.stdout)).toMatchObject({ runs: expect.any(Array), more: false });
    // and only sent to the server it came from
    const elsewhere = await cli(["runs", "--url", `http://127.0.0.1:${await freePort()}`], { url: s.url, configDir });
    expect(elsewhere.code).toBe(3);
  });

  it("a wrong password exits 4 with the server's message and stores nothing", async () => {
    const configDir = await tempDir("wrong");
    const res = await cli(
      ["login", "--username", "admin", "--password-stdin"],
      { url: s.url, configDir },
      { input: "nope\n" },
    );
    expect(res.code).toBe(4);
    expect(res.stderr).toBe("slipstream: wrong username or password\n");
    await expect(fs.stat(path.join(configDir, "config.json"))).rejects.toThrow();
  });

  it("login without --password-stdin is a usage error", async () => {
    const res = await cli(["login", "--username", "admin"], { url: s.url, configDir: await tempDir("nopw") });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^slipstream: login: give --password-stdin/);
  });

  it("no token exits 4 and says how to sign in", async () => {
    const res = await cli(["runs"], { url: s.url, configDir: await tempDir("anon") });
    expect(res.code).toBe(4);
    expect(res.stderr).toBe("slipstream: not signed in: run slipstream login, or set SLIPSTREAM_TOKEN\n");
  });

  it("a bad token exits 4", async () => {
    const res = await cli(["status", "x"], { ...env, token: "ss_not_a_token" });
    expect(res.code).toBe(4);
    expect(res.stderr).toMatch(/token is unknown or revoked/);
  });

  it("a server that is not running exits 3, without a stack trace", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const res = await cli(["runs"], { ...env, url });
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(new RegExp(`^slipstream: cannot reach the server at ${url} \\(ECONNREFUSED\\)`));
    expect(res.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("usage errors exit 2 and name the option", () => {
  const cases: [string[], RegExp][] = [
    [["run", SYSTEM, "--multiplicity", "client=x"], /^slipstream: --multiplicity: 'client=x' must be node=N\n$/],
    [["run", SYSTEM, "--multiplicity", "client"], /--multiplicity: 'client' must be node=N/],
    [
      ["run", SYSTEM, "--multiplicity", "client=1001"],
      /--multiplicity: 'client=1001' must be node=N \(N must be at most 1000\)/,
    ],
    [["run", SYSTEM, "--param", "client=1"], /--param: 'client=1' must be node:name=value/],
    [["run", SYSTEM, "--cloud", "client="], /--cloud: 'client=' must be node=CLOUD/],
    [["run", SYSTEM, "--keep-running", "sometimes"], /--keep-running: 'sometimes' must be one of always, on-success/],
    [["run", SYSTEM, "--timeout", "0"], /--timeout: '0' must be at least 1 minute/],
    [["run", SYSTEM, "--tags", "a b"], /--tags: 'a b' must be comma-separated tags/],
    [["run", SYSTEM, "--reports", "x"], /--reports: needs --wait/],
    [["run", "../up"], /MODULE: '..\/up' must be slash-separated names/],
    [["run"], /missing required argument 'module'/],
    [["nonsense"], /unknown command 'nonsense'/],
    [["runs", "--bogus"], /unknown option '--bogus'/],
  ];
  for (const [args, re] of cases) {
    it(args.join(" "), async () => {
      const res = await cli(args, env);
      expect(res.stderr).toMatch(re);
      expect(res.code).toBe(2);
    });
  }

  it("input the server rejects exits 2 with its message: unknown module, unknown node", async () => {
    const mod = await cli(["run", "examples/nope"], env);
    expect(mod.code).toBe(2);
    expect(mod.stderr).toBe("slipstream: module 'examples/nope' not found\n");
    const node = await cli(
      ["run", SYSTEM, "--multiplicity", "server=2", "--cloud", "apache=peer", "--cloud", "client=peer"],
      env,
    );
    expect(node.code).toBe(2);
    expect(node.stderr).toMatch(/multiplicity\.server: no node 'server'/);
  });

  it("--help exits 0", async () => {
    const res = await cli(["run", "--help"], env);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("--multiplicity <node=N>");
  });
});

describe("modules push, pull, list", () => {
  const list = async (prefix: string) =>
    (await s.api<{ modules: ModuleRecord[] }>("GET", `/api/modules?prefix=${prefix}`)).body.modules;

  it("push of a folder with one bad YAML exits 2 naming it and saves nothing", async () => {
    const dir = path.join(await tempDir("push"), "broken");
    await fs.mkdir(path.join(dir, "sub"), { recursive: true });
    await fs.writeFile(path.join(dir, "good.yaml"), "kind: project\ndescription: fine\n");
    await fs.writeFile(path.join(dir, "sub", "bad.yaml"), "kind: image\ntargetz: {}\n");
    const res = await cli(["modules", "push", dir], env);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^slipstream: .*broken\/sub\/bad.*targetz/);
    expect(await list("broken")).toEqual([]);
  });

  it("push defaults the prefix to the folder's name; --prefix '' pushes without one", async () => {
    const dir = path.join(await tempDir("push"), "team");
    await fs.mkdir(path.join(dir, "a"), { recursive: true });
    await fs.writeFile(path.join(dir, "a", "p.yaml"), "kind: project\n");
    const res = await cli(["modules", "push", dir], env);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe("saved team/a/p (project, version 1)\n");
    const bare = await cli(["modules", "push", dir, "--prefix", ""], env);
    expect(bare.code, bare.stderr).toBe(0);
    expect(bare.stdout).toBe("saved a/p (project, version 1)\n");
    const other = await cli(["modules", "push", dir, "--prefix", "x/y", "--json"], env);
    expect(JSON.parse(other.stdout)).toEqual({ modules: [{ path: "x/y/a/p", kind: "project", version: 1 }] });
  });

  it("pull then push of the pulled folder round-trips the modules unchanged", async () => {
    const before = await list("examples");
    const dir = await tempDir("pull");
    const pulled = await cli(["modules", "pull", "examples", dir], env);
    expect(pulled.code, pulled.stderr).toBe(0);
    const system = await fs.readFile(path.join(dir, "examples/tutorials/service-testing/system.yaml"), "utf8");
    expect(system).toContain("webserver.hostname: apache:hostname");
    const hint = pulled.stdout.trim().split("\n").at(-1);
    expect(hint).toBe(`push them back with: slipstream modules push ${path.join(dir, "examples")}`);

    const pushed = await cli(["modules", "push", path.join(dir, "examples")], env);
    expect(pushed.code, pushed.stderr).toBe(0);
    const after = await list("examples");
    expect(after.map((m) => m.path)).toEqual(before.map((m) => m.path));
    expect(after.map((m) => m.doc)).toEqual(before.map((m) => m.doc));
    expect(after.map((m) => m.version)).toEqual(before.map((m) => m.version + 1));

    // a deeper path lands relative to its parent, and the hint carries the prefix
    const deep = await cli(["modules", "pull", "examples/tutorials", dir], env);
    expect(deep.stdout).toContain(
      `push them back with: slipstream modules push ${path.join(dir, "tutorials")} --prefix examples/tutorials`,
    );
    const back = await cli(["modules", "push", path.join(dir, "tutorials"), "--prefix", "examples/tutorials"], env);
    expect(back.code, back.stderr).toBe(0);
    expect((await list("examples")).map((m) => m.doc)).toEqual(before.map((m) => m.doc));
  });

  it("pull of a path with no modules exits 2", async () => {
    const res = await cli(["modules", "pull", "nothing/here", await tempDir("pull")], env);
    expect(res.code).toBe(2);
    expect(res.stderr).toBe("slipstream: PATH: no modules under 'nothing/here'\n");
  });

  it("list prints a table, or the API's JSON", async () => {
    const table = await cli(["modules", "list", "examples"], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^PATH\s+KIND\s+VERSION\s+OWNER\s+UPDATED\n/);
    expect(table.stdout).toMatch(/examples\/tutorials\/service-testing\/system\s+deployment/);
    const json = JSON.parse((await cli(["modules", "list", "examples", "--json"], env)).stdout);
    expect(json).toEqual(await s.api("GET", "/api/modules?prefix=examples").then((r) => r.body));
  });
});

describe("steering a run from the CLI", () => {
  /** A run on the peer cloud with no peer connected: it waits in Provisioning. */
  async function parkedRun(extra: string[] = []): Promise<RunDetail> {
    const res = await cli(["run", SYSTEM, "--cloud", "apache=peer", "--cloud", "client=peer", "--json", ...extra], env);
    expect(res.code, res.stderr).toBe(0);
    return JSON.parse(res.stdout) as RunDetail;
  }

  it("run prints the id and the run's URL", async () => {
    const res = await cli(
      ["run", SYSTEM, "--cloud", "apache=peer", "--cloud", "client=peer", "--tags", "ci,nightly"],
      env,
    );
    expect(res.code, res.stderr).toBe(0);
    const m =
      /^Run (\S+) {2}examples\/tutorials\/service-testing\/system {2}\(keep-running: on-success\)\n(\S+)\n$/.exec(
        res.stdout,
      );
    expect(m).not.toBeNull();
    expect(m![2]).toBe(`${s.url}/runs/${m![1]}`);
    const detail = (await s.api<RunDetail>("GET", `/api/runs/${m![1]}`)).body;
    expect(detail.tags).toEqual(["ci", "nightly"]);
  });

  it("runs, status, params, abort, abort --cancel and terminate", async () => {
    cloud.launches.clear();
    const run = await parkedRun([
      "--multiplicity",
      "client=2",
      "--param",
      "client:webserver.port=8080",
      "--tags",
      "cli",
    ]);
    expect(run.instances.map((i) => i.name).sort()).toEqual(["apache.1", "client.1", "client.2"]);
    // machines that came up keep the run in Provisioning through an abort (it waits for them)
    for (const name of ["apache.1", "client.1", "client.2"]) {
      const p = new AgentPeer(s.url, (await cloud.launched(name)).token);
      peers.push(p);
      await p.until((st) => st.state === "Provisioning");
    }

    const runs = JSON.parse((await cli(["runs", "--json", "--tag", "cli"], env)).stdout) as { runs: RunSummary[] };
    expect(runs.runs.map((r) => r.id)).toEqual([run.id]);
    const table = await cli(["runs", "--active", "--mine"], env);
    expect(table.stdout).toMatch(/^ID\s+MODULE\s+STATE\s+OWNER\s+CREATED\s+ABORT\n/);
    expect(table.stdout).toContain(run.id);

    const params = await cli(["params", run.id], env);
    expect(params.code).toBe(0);
    expect(params.stdout).toContain("client.2:webserver.port = 8080\n");
    expect(params.stdout).toContain("apache.1:port = (unset)\n");
    expect(params.stdout).toMatch(/^ss:state = Provisioning$/m);

    const aborted = await cli(["abort", run.id, "it broke"], env);
    expect(aborted.code, aborted.stderr).toBe(0);
    expect(aborted.stdout).toContain("aborted: it broke");
    const status = await cli(["status", run.id], env);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain("ABORTED: it broke");
    expect(status.stdout).toMatch(/client\.2\s+… Provisioning\s+host 127\.0\.0\.1/);
    const json = JSON.parse((await cli(["status", run.id, "--json"], env)).stdout) as RunDetail;
    expect(json).toMatchObject({ id: run.id, abort: "it broke", recoveryMode: true });

    const cancel = await cli(["abort", "--cancel", run.id], env);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect((await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body).toMatchObject({
      abort: null,
      recoveryMode: false,
    });

    const term = await cli(["terminate", run.id], env);
    expect(term.code, term.stderr).toBe(0);
    expect(term.stdout).toContain(`Run ${run.id}: terminating`);
    const again = await cli(["terminate", run.id], env);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe("slipstream: the run is already Cancelled\n");
    expect(JSON.parse((await cli(["status", run.id, "--json"], env)).stdout).state).toBe("Cancelled");
  });

  it("not allowed exits 4 with the server's message; a server error exits 3; params --json is the API's JSON", async () => {
    const run = await parkedRun([]);
    const bob = await addMember(s, "cli-bob");
    const denied = await cli(["abort", run.id, "not mine"], { ...env, token: bob.token });
    expect(denied.code).toBe(4);
    expect(denied.stderr).toMatch(/^slipstream: .*admin/m);
    expect((await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.abort).toBeNull();

    const params = await cli(["params", run.id, "--json"], env);
    expect(params.code).toBe(0);
    expect(JSON.parse(params.stdout)).toMatchObject({ params: expect.any(Array), lastSeq: expect.any(Number) });

    // a server that fails: exit 3 with its message, no stack trace
    const broken = http.createServer((_req, res) =>
      res
        .writeHead(500, { "content-type": "application/json" })
        .end(JSON.stringify({ error: { code: "INTERNAL", message: "disk on fire" } })),
    );
    await new Promise<void>((r) => broken.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(broken.address() as net.AddressInfo).port}`;
      const res = await cli(["runs"], { ...env, url });
      expect(res.code).toBe(3);
      expect(res.stderr).toContain("disk on fire");
      expect(res.stderr).not.toMatch(/\n\s+at /);
    } finally {
      broken.close();
    }
    await s.api("POST", `/api/runs/${run.id}/terminate`);
  });

  it("an unknown run exits 2", async () => {
    const res = await cli(["status", "no-such-run"], env);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^slipstream: .*no-such-run/);
  });

  it("scale parses +N and -ID… (which look like options) and refuses anything else", async () => {
    const run = await parkedRun();
    // the run is not scalable: the request reaching the server proves the arguments parsed
    for (const change of [["+2"], ["-3", "-4"]]) {
      const res = await cli(["scale", run.id, "client", ...change], env);
      expect(res.stderr).toBe("slipstream: the run was not created scalable\n");
      expect(res.code).toBe(2);
    }
    for (const [change, re] of [
      [["x"], /'x' must be \+N \(add N instances\) or -ID/],
      [["-x"], /'-x' must be \+N/],
      [["+0"], /'\+0' must be \+N/],
      [["+2", "-3"], /either \+N or -ID…, not both/],
      [[], /missing required argument 'changes'/],
    ] as [string[], RegExp][]) {
      const res = await cli(["scale", run.id, "client", ...change], env);
      expect(res.stderr).toMatch(re);
      expect(res.code).toBe(2);
    }
    await s.api("POST", `/api/runs/${run.id}/terminate`);
  });
});
