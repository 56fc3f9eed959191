import { spawnSync } from "node:child_process";
import { existsSync, readlinkSync, statSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Server } from "socket.io";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { AgentClientToServer, AgentServerToClient } from "../../protocol/agent-socket.js";
import { buildAgentBundle } from "../../scripts/build-agent.js";
import { alive, eventually, instancePids } from "../testing/instance-processes.js";
import { createLocalConnector, type LocalConnector } from "./local.js";
import { localAgentsMode } from "./local-host.js";
import type { InstanceLaunch, StartedInstance, StopTarget } from "./types.js";

let root: string;
let bundleDir: string;
let url: string;
let io: Server<AgentClientToServer, AgentServerToClient>;
const asRoot = process.getuid?.() === 0;

/** The execute target every instance runs: what its recipes see, noted in its tmp, then a long sleep. */
const EXECUTE = [
  "#!/bin/sh",
  'echo "$SLIPSTREAM_WORKSPACE" > "$TMPDIR/workspace"',
  'hostname > "$TMPDIR/hostname"',
  'cat /proc/self/cgroup > "$TMPDIR/cgroup"',
  // every process the machine shows, and whether any of them carries an agent's token
  "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c SLIPSTREAM_AGENT_TOKEN > \"$TMPDIR/tokens\"",
  'ls /proc | grep -c "^[0-9]" > "$TMPDIR/procs"',
  'ss-set ready yes && echo set > "$TMPDIR/ss"',
  // the wrappers' TCP listener answers from here (the bridge's address when the instance has its own network)
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
  'bash -c \'read -r port key proof host < "$SLIPSTREAM_AGENT_ENDPOINT" && exec 3<>"/dev/tcp/${host:-127.0.0.1}/$port" && echo reachable\' > "$TMPDIR/fast" 2>&1',
  "sleep 1000",
].join("\n");

const sets: string[] = [];

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "ss-lhost-"));
  bundleDir = path.join(root, "bundle");
  await buildAgentBundle(bundleDir);
  // a minimal /agent peer: each instance (told apart by its token) runs its execute target
  const http = createServer();
  io = new Server<AgentClientToServer, AgentServerToClient>(http);
  io.of("/agent").on("connection", (socket) => {
    const instance = String((socket.handshake.auth as { token?: string }).token).replace(/^tok-0123456789-/, "");
    socket.on("log:append", (_req, ack) => ack({ ok: true, data: { seq: null } }));
    socket.on("state:complete", (req, ack) => ack({ ok: true, data: { state: String(req.state) } }));
    socket.on("param:set", (req, ack) => {
      sets.push((req as { key: string }).key);
      ack({ ok: true, data: { seq: 1 } } as never);
    });
    socket.emit("agent:hello", {
      run: {
        seq: 1,
        runId: "run-h",
        instance,
        state: "Executing",
        abort: null,
        recoveryMode: false,
        completed: false,
        live: true,
        scaling: null,
      },
      assignment: { node: instance.split(".")[0], index: 1, cloud: "local", targets: { execute: EXECUTE } },
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => io.close(resolve));
  await rm(root, { recursive: true, force: true });
});

const launch = (instance: string): InstanceLaunch => ({
  runId: "run-h",
  instance,
  node: instance.split(".")[0],
  cloud: "local",
  serviceUrl: url,
  token: `tok-0123456789-${instance}`,
});

const hostPidOf = (s: StartedInstance) => Number(/^local-host-(\d+)-/.exec(s.instanceId)?.[1]);
/** the recipes' long sleep, as an instance's process list shows it */
const SLEEPER = ["sleep", "1000"];

describe("local cloud, one agent host per run", () => {
  const made: LocalConnector[] = [];
  /** every instance a test starts, stopped after it even when the test fails (its host then ends) */
  const started: { c: LocalConnector; target: StopTarget }[] = [];
  const start = async (c: LocalConnector, l: InstanceLaunch) => {
    const s = await c.start(l);
    started.push({ c, target: { runId: l.runId, instance: l.instance, ...s } });
    return s;
  };
  afterEach(async () => {
    for (const { c, target } of started.splice(0)) await c.stop(target, { keep: false });
  });
  afterAll(async () => {
    for (const c of made.splice(0)) await c.close();
  });
  const make = (dataDir: string) => {
    const c = createLocalConnector({ dataDir, bundleDir, killGraceSeconds: 1, agents: "per-run" });
    made.push(c);
    return c;
  };

  it("serves every instance of a run from one process, each in its own machine, cgroup and uid", async () => {
    const dataDir = path.join(root, "data-two");
    const connector = make(dataDir);
    if (!(await connector.isolation()).sandboxed) return;
    const a = await start(connector, launch("web.1"));
    const b = await start(connector, launch("db.1"));
    const host = hostPidOf(a);
    expect(host).toBeGreaterThan(0);
    expect(hostPidOf(b)).toBe(host);
    expect(a.instanceId).not.toBe(b.instanceId);
    const dirOf = (i: string) => path.join(dataDir, "instances/run-h", i);
    const tmpOf = (i: string, f: string) => readFile(path.join(dirOf(i), "machine/tmp", f), "utf8");
    for (const i of ["web.1", "db.1"]) {
      await eventually(async () => (await tmpOf(i, "ss")).trim() || undefined, `${i}'s ss-set`);
      // the recipes see their machine's paths, not the host's
      expect((await tmpOf(i, "workspace")).trim()).toBe("/slipstream");
      expect((await tmpOf(i, "hostname")).trim()).toBe(i.replace(".", "-"));
      // no process of the machine carries a token: the host and the other instance are not in its /proc
      expect((await tmpOf(i, "tokens")).trim()).toBe("0");
      if (asRoot) expect(await tmpOf(i, "cgroup")).toContain(`slipstream/run-h_${i}`);
      const out = await readFile(path.join(dirOf(i), "agent.out"), "utf8");
      expect(out).toContain(`Agent of ${i}`);
      // the wrappers' loopback listener is in the instance's own network, where its recipes are
      expect(out).not.toContain("fast path unavailable");
    }
    for (const i of ["web.1", "db.1"]) {
      // the recipe's line after its ss-set: the file exists (the redirection) before its line is written
      const fast = await eventually(async () => (await tmpOf(i, "fast")).trim() || undefined, `${i}'s fast path`);
      expect(fast).toBe("reachable");
    }
    if (asRoot) {
      // each namespace is held by its machine alone, no name (a mount every later machine start would copy) kept
      const machinePid = (await readFile(path.join(dirOf("web.1"), "run/machine.pid"), "utf8")).trim();
      expect(readlinkSync(`/proc/${machinePid}/ns/net`)).not.toBe(readlinkSync("/proc/self/ns/net"));
      expect(existsSync(path.join(dirOf("web.1"), "netns"))).toBe(false);
      const named = spawnSync("ip", ["netns", "identify", machinePid], { encoding: "utf8" });
      expect(named.status).toBe(0);
      expect(named.stdout.trim()).toBe("");
    }
    expect(sets).toEqual(expect.arrayContaining(["web.1:ready", "db.1:ready"]));
    // what both workspaces hold the same is one file of the host's, linked into each: no copy, no inode of its own
    for (const f of ["machine/bin/ss-get", "machine/bin/ss-set", "machine/lib/ss.mjs"]) {
      const [web, db] = ["web.1", "db.1"].map((i) => statSync(path.join(dirOf(i), f)));
      expect(web.ino).toBe(db.ino);
      expect(web.nlink).toBe(3);
    }
    const dbEndpoint = (await readFile(path.join(dirOf("db.1"), "machine/lib/ss.endpoint"), "utf8")).trim().split(" ");
    // as root each instance has its own network: the listener is on the bridge, its address in the endpoint
    expect(dbEndpoint.length).toBe(asRoot ? 4 : 3);
    if (dbEndpoint.length === 4) {
      // db.1's listener sits on the bridge, which web.1 reaches too: even with db.1's key (which its machine cannot
      // read) web.1 is cut before any answer, since it is not db.1's address
      const [port, key, , host] = dbEndpoint;
      const probe = spawnSync(
        path.join(dirOf("web.1"), "enter"),
        [
          "bash",
          "-c",
          `exec 3<>/dev/tcp/${host}/${port} || exit 9; printf '%s\\0' ${key} 1 ss-get --help >&3; cat <&3 | wc -c`,
        ],
        { encoding: "utf8", timeout: 20_000 },
      );
      expect(probe.stdout.trim()).toBe("0");
    }
    // the host's own environment holds no token either: each reached it through the control socket
    expect(await readFile(`/proc/${host}/environ`, "utf8")).not.toContain("tok-");
    if (asRoot) {
      const [sleeper] = await instancePids(dirOf("web.1"), SLEEPER);
      const cg = await readFile(`/proc/${sleeper}/cgroup`, "utf8");
      expect(cg).toContain("slipstream/run-h_web.1");
      expect(cg).not.toContain("run-h_db.1");
    }

    const webSleepers = await instancePids(dirOf("web.1"), SLEEPER);
    expect(webSleepers.length).toBe(1);
    await connector.stop({ runId: "run-h", instance: "web.1", ...a }, { keep: false });
    expect(webSleepers.some(alive)).toBe(false);
    expect(existsSync(dirOf("web.1"))).toBe(false);
    // the run's other instance goes on in the same host
    expect(alive(host)).toBe(true);
    expect((await instancePids(dirOf("db.1"), SLEEPER)).length).toBe(1);

    await connector.stop({ runId: "run-h", instance: "db.1", ...b }, { keep: false });
    // its last instance stopped: the host is gone when stop returns (at most a zombie of this process)
    const state = await readFile(`/proc/${host}/stat`, "utf8").then(
      (s) => s[s.lastIndexOf(")") + 2],
      () => "gone",
    );
    expect(["Z", "gone"]).toContain(state);
    // and the run's directory with it, the host's store of shared files included
    expect(existsSync(path.join(dataDir, "instances/run-h"))).toBe(false);
  }, 90_000);

  it("after a server restart a new connector finds the run's host and stops its instance", async () => {
    const dataDir = path.join(root, "data-restart");
    const first = make(dataDir);
    if (!(await first.isolation()).sandboxed) return;
    const a = await start(first, launch("app.1"));
    const host = hostPidOf(a);
    const hostDir = path.join(dataDir, "instances/run-h/app.1");
    await eventually(async () => (await instancePids(hostDir, SLEEPER))[0], "the recipe");
    // the server goes (its relay to the bridge with it); a second instance after the restart joins the same host
    await first.close();
    const again = make(dataDir);
    const b = await start(again, launch("app.2"));
    expect(hostPidOf(b)).toBe(host);
    await again.stop(
      { runId: "run-h", instance: "app.1", instanceId: a.instanceId, workspace: a.workspace },
      {
        keep: true,
      },
    );
    expect(await instancePids(hostDir, SLEEPER)).toEqual([]);
    expect(existsSync(path.join(hostDir, "agent.out"))).toBe(true);
    await again.stop({ runId: "run-h", instance: "app.2", ...b }, { keep: false });
    const state = await readFile(`/proc/${host}/stat`, "utf8").then(
      (s) => s[s.lastIndexOf(")") + 2],
      () => "gone",
    );
    expect(["Z", "gone"]).toContain(state);
    await again.stop({ runId: "run-h", instance: "app.1", ...a }, { keep: false });
  }, 90_000);

  it("names the variable when SLIPSTREAM_LOCAL_AGENTS is neither mode", () => {
    const before = process.env.SLIPSTREAM_LOCAL_AGENTS;
    try {
      process.env.SLIPSTREAM_LOCAL_AGENTS = "per-host";
      expect(() => localAgentsMode()).toThrow(/SLIPSTREAM_LOCAL_AGENTS: must be per-run or per-instance/);
      expect(localAgentsMode("per-instance")).toBe("per-instance");
      delete process.env.SLIPSTREAM_LOCAL_AGENTS;
      expect(localAgentsMode()).toBe("per-run");
      process.env.SLIPSTREAM_LOCAL_AGENTS = "per-run";
      expect(localAgentsMode()).toBe("per-run");
    } finally {
      if (before === undefined) delete process.env.SLIPSTREAM_LOCAL_AGENTS;
      else process.env.SLIPSTREAM_LOCAL_AGENTS = before;
    }
  });
});
