import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
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
import { cgroupKey } from "./sandbox/cgroups.js";
import { dropNetworkOf } from "./sandbox/network.js";
import type { Connector, InstanceLaunch, StopTarget } from "./types.js";

let root: string;
let bundleDir: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "ss-local-"));
  bundleDir = path.join(root, "bundle");
  await buildAgentBundle(bundleDir);
});
afterEach(async () => {
  for (const { connector, target } of launched.splice(0)) await connector.stop(target, { keep: false });
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** Every instance a test starts, stopped again after it even when the test fails. */
const launched: { connector: Connector; target: StopTarget }[] = [];
async function startTracked(connector: Connector, l: InstanceLaunch) {
  const s = await connector.start(l);
  launched.push({ connector, target: { runId: l.runId, instance: l.instance, ...s } });
  return s;
}

const launch = (instance: string, serviceUrl = "http://127.0.0.1:1") => ({
  runId: "run-7",
  instance,
  node: instance.split(".")[0],
  cloud: "local",
  serviceUrl,
  token: "local-token-0123456789",
});

/** the agent's pid: its own process (`local-<pid>`), or the run's agent host (`local-host-<pid>-<instance>`) */
const pidOf = (instanceId: string) => Number(/^local-(?:host-)?(\d+)/.exec(instanceId)?.[1]);

/** Ended: gone, or at most a zombie this test process has not reaped yet. */
async function gone(pid: number): Promise<boolean> {
  const state = await readFile(`/proc/${pid}/stat`, "utf8").then(
    (s) => s[s.lastIndexOf(")") + 2],
    () => "gone",
  );
  return state === "Z" || state === "gone";
}

/** Process group of a pid, from /proc/<pid>/stat (the field after state and ppid). */
async function pgidOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
}

// the same behaviour with and without a sandbox (this machine can sandbox; `sandbox: false` is an admin's choice)
// sandboxed, also with one agent host per run (agent/host.ts) serving the run's instances instead of a Node each
describe.each([
  { mode: "sandboxed", sandbox: true, agents: "per-instance" as const },
  { mode: "sandboxed, one host per run", sandbox: true, agents: "per-run" as const },
  { mode: "not sandboxed", sandbox: false, agents: "per-instance" as const },
])("local connector, $mode", ({ mode, sandbox, agents }) => {
  const hosted = agents === "per-run";
  const made: LocalConnector[] = [];
  afterAll(async () => {
    for (const c of made.splice(0)) await c.close();
  });
  const make = (dataDir: string, killGraceSeconds?: number) => {
    const c = createLocalConnector({ dataDir, bundleDir, killGraceSeconds, sandbox, agents });
    made.push(c);
    return c;
  };
  /** where the agent's output and the workspace are on this machine */
  const where = (dataDir: string, instance: string) => {
    const hostDir = path.join(dataDir, "instances/run-7", instance);
    return { hostDir, ws: sandbox ? path.join(hostDir, "machine") : hostDir };
  };

  it("says whether it sandboxes", async () => {
    const iso = await make(path.join(root, `data-iso-${mode}`)).isolation();
    expect(iso.sandboxed).toBe(sandbox);
    expect(iso.summary).toMatch(sandbox ? /^local cloud: sandboxed/ : /NOT sandboxed.*admins only/);
  });

  it("starts the agent in its own process group and stops it, removing the workspace", async () => {
    const dataDir = path.join(root, `data-${mode}`);
    const connector = make(dataDir);
    const started = await startTracked(connector, launch("apache.1"));
    const { hostDir, ws } = where(dataDir, "apache.1");
    // as root, a sandboxed instance has an address of its own on the server's bridge
    expect(started.hostname).toMatch(sandbox && process.getuid?.() === 0 ? /^10\.214\.\d+\.\d+$/ : /^127\.0\.0\.1$/);
    expect(started.workspace).toBe(sandbox ? "/slipstream" : hostDir);
    expect(started.login).toBe(sandbox ? path.join(hostDir, "enter") : undefined);
    expect(started.instanceId).toMatch(hosted ? /^local-host-\d+-apache\.1$/ : /^local-\d+$/);
    const pid = pidOf(started.instanceId);
    expect(await pgidOf(pid)).toBe(pid);
    // the agent prepares its workspace even though the server is unreachable
    await eventually(
      async () => (await readFile(path.join(hostDir, "agent.out"), "utf8")).includes("Agent of apache.1") || undefined,
      "the agent's start line",
    );
    expect(existsSync(path.join(ws, "slipstream.setenv"))).toBe(true);

    await connector.stop({ runId: "run-7", instance: "apache.1", ...started }, { keep: false });
    expect(await gone(pid)).toBe(true);
    expect(existsSync(hostDir)).toBe(false);
    // stopping again (already dead) is fine
    await connector.stop({ runId: "run-7", instance: "apache.1", ...started }, { keep: false });
  });

  it("started again in the same workspace (a restart while starting), the first agent is gone before the second runs", async () => {
    const dataDir = path.join(root, `data-again-${mode}`);
    const connector = make(dataDir);
    const { hostDir } = where(dataDir, "client.7");
    const first = await startTracked(connector, launch("client.7"));
    const firstPid = pidOf(first.instanceId);
    await eventually(
      async () => (await readFile(path.join(hostDir, "agent.out"), "utf8")).includes("Agent of client.7") || undefined,
      "the first agent's start line",
    );
    const second = await startTracked(connector, launch("client.7"));
    if (hosted) {
      // the run's host replaced the instance's first agent by the second: stopped, then started anew
      expect(pidOf(second.instanceId)).toBe(firstPid);
      const out = await readFile(path.join(hostDir, "agent.out"), "utf8");
      expect(out).toContain("started again");
      expect(out.indexOf("started again")).toBeLessThan(out.lastIndexOf("Agent of client.7"));
      await connector.stop({ runId: "run-7", instance: "client.7", ...second }, { keep: false });
      expect(await gone(firstPid)).toBe(true);
      return;
    }
    // killed: at most a zombie this test process has not reaped yet
    const state = await readFile(`/proc/${firstPid}/stat`, "utf8").then(
      (s) => s[s.lastIndexOf(")") + 2],
      () => "gone",
    );
    expect(["Z", "gone"]).toContain(state);
    expect(alive(pidOf(second.instanceId))).toBe(true);
    await connector.stop({ runId: "run-7", instance: "client.7", ...second }, { keep: false });
  });

  it("keeps the workspace with keep, and stops from instanceId/workspace alone (after a server restart)", async () => {
    const dataDir = path.join(root, `data-keep-${mode}`);
    const { hostDir, ws } = where(dataDir, "client.1");
    const started = await startTracked(make(dataDir), launch("client.1"));
    const pid = pidOf(started.instanceId);
    await eventually(async () => existsSync(path.join(ws, "slipstream.setenv")) || undefined, "the workspace");
    const afterRestart = make(dataDir);
    await afterRestart.stop(
      { runId: "run-7", instance: "client.1", instanceId: started.instanceId, workspace: started.workspace },
      { keep: true },
    );
    expect(await gone(pid)).toBe(true);
    expect(existsSync(path.join(hostDir, "agent.out"))).toBe(true);
    expect(existsSync(path.join(ws, "slipstream.setenv"))).toBe(true);
  });

  it("kills the whole tree: the recipe's children and a daemon in another session", async () => {
    // a minimal /agent peer: enough for the agent to run its execute target
    const http = createServer();
    const io = new Server<AgentClientToServer, AgentServerToClient>(http);
    io.of("/agent").on("connection", (socket) => {
      socket.on("log:append", (_req, ack) => ack({ ok: true, data: { seq: null } }));
      socket.on("state:complete", (req, ack) => ack({ ok: true, data: { state: String(req.state) } }));
      socket.emit("agent:hello", {
        run: {
          seq: 1,
          runId: "run-7",
          instance: "client.2",
          state: "Executing",
          abort: null,
          recoveryMode: false,
          completed: false,
          live: true,
          scaling: null,
        },
        assignment: {
          node: "client",
          index: 2,
          cloud: "local",
          targets: {
            execute: [
              "#!/bin/sh",
              "sleep 1001 &",
              '(setsid sleep 1002 & echo $! > "$TMPDIR/daemon.pid")',
              'echo $$ > "$TMPDIR/script.pid"',
              "sleep 1000",
            ].join("\n"),
          },
        },
      });
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    try {
      const dataDir = path.join(root, `data-tree-${mode}`);
      const { hostDir, ws } = where(dataDir, "client.2");
      const connector = make(dataDir, 1);
      const started = await startTracked(connector, launch("client.2", url));
      await eventually(
        () => readFile(path.join(ws, "tmp/script.pid"), "utf8").then((s) => s || undefined),
        "the script",
      );
      const [script] = await eventually(
        async () =>
          (await instancePids(hostDir, ["sleep", "1000"]))[0] ? instancePids(hostDir, ["sleep", "1000"]) : undefined,
        "the script's sleep",
      );
      const [child] = await eventually(
        async () =>
          (await instancePids(hostDir, ["sleep", "1001"]))[0] ? instancePids(hostDir, ["sleep", "1001"]) : undefined,
        "its child",
      );
      const [daemon] = await eventually(
        async () =>
          (await instancePids(hostDir, ["sleep", "1002"]))[0] ? instancePids(hostDir, ["sleep", "1002"]) : undefined,
        "its daemon",
      );
      expect(await pgidOf(script)).not.toBe(pidOf(started.instanceId));
      // setsid runs a moment after its pid is written: wait for the daemon's own session rather than race it
      await eventually(
        async () => ((await pgidOf(daemon)) !== (await pgidOf(script)) ? true : undefined),
        "the daemon in a session of its own",
      );
      for (const pid of [pidOf(started.instanceId), script, child, daemon]) expect(alive(pid)).toBe(true);

      await connector.stop({ runId: "run-7", instance: "client.2", ...started }, { keep: false });
      await eventually(
        async () => ([pidOf(started.instanceId), script, child, daemon].some(alive) ? undefined : true),
        "every process gone",
        3000,
      );
      expect(existsSync(hostDir)).toBe(false);
    } finally {
      await new Promise((resolve) => io.close(resolve));
    }
  });
});

// a start that fails once it has made its namespace and control groups (here: the run's agent host ends at start)
// leaves no machine the run could stop (it has no id): the connector takes back what it made
describe.skipIf(process.getuid?.() !== 0)("local connector, a sandboxed start that fails part-way", () => {
  it("leaves no namespace on its bridge, no control group and no directory", async () => {
    const broken = path.join(root, "bundle-host-ends");
    await cp(bundleDir, broken, { recursive: true });
    await writeFile(path.join(broken, "host.mjs"), "process.exit(3);\n");
    const dataDir = path.join(root, "data-failed-start");
    const connector = createLocalConnector({ dataDir, bundleDir: broken, sandbox: true, agents: "per-run" });
    try {
      const iso = await connector.isolation();
      const bridge = /on (\S+) \(the server is/.exec(iso.summary)?.[1];
      expect(bridge, iso.summary).toBeDefined();
      const failing = { ...launch("db.1"), runId: "run-failed-start" };
      await expect(connector.start(failing)).rejects.toThrow(/agent host ended at start/);
      // each instance's namespace hangs on the bridge by its link
      expect(execFileSync("ip", ["-br", "link", "show", "master", bridge!], { encoding: "utf8" }).trim()).toBe("");
      const key = cgroupKey(failing.runId, "db.1");
      for (const parent of ["slipstream", "memory/slipstream", "pids/slipstream"]) {
        expect(existsSync(path.join("/sys/fs/cgroup", parent, key)), parent).toBe(false);
      }
      expect(existsSync(path.join(dataDir, "instances", failing.runId, "db.1"))).toBe(false);
      // the host's output, which the error names, is still there to read
      expect(existsSync(path.join(dataDir, "instances", failing.runId, "host.out"))).toBe(true);
    } finally {
      await connector.close();
      await dropNetworkOf(dataDir);
    }
  });
});
