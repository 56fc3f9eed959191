import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { debugCommands, type RunDetail } from "../../protocol/run.js";
import { startServer } from "../app.js";
import { ADMIN_PASSWORD, type TestServer } from "../testing/harness.js";
import { createTestHosts, generateKeyPair, netnsUnavailable, type TestHosts } from "../testing/netns.js";
import { fetchReports } from "../testing/reports.js";
import { RunWatcher } from "../testing/watch.js";
import { connectHost, createSshConnector, execRemote, type SshHost } from "./ssh.js";
import type { InstanceLaunch } from "./types.js";

const exec = promisify(execFile);

const unavailable = await netnsUnavailable();
const TUTORIAL = "examples/tutorials/service-testing";

let hosts: TestHosts;
let server: TestServer;
let userKey: { privateKey: string; publicKey: string };
const watchers: RunWatcher[] = [];

/** The test server listens on every interface so agents in the namespaces reach it through the bridge. */
async function bootServer(): Promise<TestServer> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-ssh-test-"));
  const s = await startServer({
    port: 0,
    host: "0.0.0.0",
    dataDir,
    adminPassword: ADMIN_PASSWORD,
    ui: false,
    log: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    killGraceSeconds: 2,
  });
  const api = async <T>(method: string, url: string, body?: unknown, token?: string | null) => {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (token !== null && (token ?? t.token)) headers.authorization = `Bearer ${token ?? t.token}`;
    const res = await fetch(`${s.url}${url}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: res.status, body: parsed as T };
  };
  const t: TestServer = { ...s, dataDir, token: "", api };
  t.token = (
    await api<{ token: string }>("POST", "/api/auth/login", { username: "admin", password: ADMIN_PASSWORD }, null)
  ).body.token;
  return t;
}

function host(i: number, maxInstances: number): SshHost {
  return {
    address: hosts.hosts[i].address,
    port: 22,
    username: hosts.user,
    privateKey: hosts.clientKey,
    maxInstances,
  };
}

function addCloud(name: string, hostList: SshHost[]): void {
  server.app.connectors.set(
    name,
    createSshConnector(
      { name, hosts: hostList, agentServiceUrl: `http://${hosts.gateway}:${server.port}` },
      {
        bundleDir: path.join(server.dataDir, "agent"),
        redact: (s) => server.app.secrets.redact(s),
        authorizedKeys: () => [userKey.publicKey],
        killGraceSeconds: 2,
      },
    ),
  );
}

/** A second sshd in host e's namespace, whose sessions get PATH=<extraBin> only (no node, or a fake one). */
const EXTRA_PORT = 2222;
let extraDir = "";
let extraSshd: ChildProcess | null = null;
const netnsDir = () => path.dirname(hosts.home);
const extraBin = () => path.join(extraDir, "bin");

async function stopExtraSshd(): Promise<void> {
  const p = extraSshd;
  extraSshd = null;
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once("exit", r));
  p.kill("SIGTERM");
  await gone;
}

async function startExtraSshd(hostKey: string): Promise<void> {
  await stopExtraSshd();
  const h = hosts.hosts[4];
  // only ever an address of a namespace this test made, reached through its bridge
  const route = (await exec("ip", ["route", "get", h.address])).stdout;
  if (!new RegExp(`\\bdev ssb${process.pid}\\b`).test(route)) throw new Error(`refusing ${h.address}: ${route}`);
  if (!extraDir) {
    extraDir = await fs.mkdtemp(path.join(netnsDir(), "extra-"));
    await fs.chmod(extraDir, 0o755);
    await fs.mkdir(extraBin(), { recursive: true, mode: 0o755 });
  }
  const conf = path.join(extraDir, "sshd.conf");
  await fs.writeFile(
    conf,
    [
      `ListenAddress ${h.address}:${EXTRA_PORT}`,
      `HostKey ${hostKey}`,
      `PidFile ${extraDir}/sshd.pid`,
      `AuthorizedKeysFile ${netnsDir()}/cloud_keys .ssh/authorized_keys`,
      `SetEnv PATH=${extraBin()}`,
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "StrictModes no",
      "UsePAM no",
      `AllowUsers ${hosts.user}`,
      "Subsystem sftp internal-sftp",
      "LogLevel ERROR",
      "",
    ].join("\n"),
  );
  const p = spawn("ip", ["netns", "exec", h.ns, "/usr/sbin/sshd", "-D", "-e", "-f", conf], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  p.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  extraSshd = p;
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const sock = net.connect({ host: h.address, port: EXTRA_PORT });
      sock.once("connect", () => {
        sock.destroy();
        resolve(true);
      });
      sock.once("error", () => {
        sock.destroy();
        resolve(false);
      });
    });
    if (up) return;
    if (i > 100 || p.exitCode !== null) throw new Error(`extra sshd did not start: ${stderr.trim()}`);
    await sleep(50);
  }
}

function extraConnector(onHostKeyPinned?: (h: { address: string; port: number }, fp: string) => void) {
  return createSshConnector(
    { name: "ssh-e", hosts: [{ ...host(4, 1), port: EXTRA_PORT }] },
    { bundleDir: path.join(server.dataDir, "agent"), authorizedKeys: () => [userKey.publicKey], onHostKeyPinned },
  );
}

function extraLaunch(runId: string): InstanceLaunch {
  // never started: every start here fails before an agent would dial the service URL
  return {
    runId,
    instance: "machine.1",
    node: "machine",
    cloud: "ssh-e",
    serviceUrl: "http://127.0.0.1:9",
    token: "t",
  };
}

async function launch(body: Record<string, unknown>) {
  const res = await server.api<RunDetail>("POST", "/api/runs", { keepRunning: "never", ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const w = new RunWatcher(server.url, server.token, res.body.id);
  watchers.push(w);
  return { run: res.body, w };
}

describe.skipIf(unavailable !== null)(
  `the ssh cloud against real sshd in network namespaces${unavailable ? ` (skipped: ${unavailable})` : ""}`,
  () => {
    beforeAll(async () => {
      hosts = await createTestHosts(["a", "b", "c", "d", "e"]);
      userKey = await generateKeyPair();
      server = await bootServer();
      addCloud("ssh-a", [host(0, 1)]);
      addCloud("ssh-bc", [host(1, 2), host(2, 2)]);
    }, 60_000);

    afterAll(async () => {
      await stopExtraSshd();
      for (const w of watchers.splice(0)) w.close();
      await server?.close({ stopInstances: true });
      await hosts?.cleanup();
    }, 60_000);

    it("the tutorial: apache on host A, three clients over hosts B and C, data.txt fetched across namespaces", async () => {
      const { run, w } = await launch({
        module: `${TUTORIAL}/system`,
        multiplicity: { client: 3 },
        clouds: { apache: "ssh-a", client: "ssh-bc" },
      });
      const end = await w.ended();
      expect(
        end.body,
        JSON.stringify((await server.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.abort),
      ).toMatchObject({
        to: "Done",
      });
      const params = new Map(
        w.events.flatMap((e) => (e.body.type === "param" ? [[e.body.key, e.body.value] as const] : [])),
      );
      expect(params.get("apache.1:hostname")).toBe(hosts.hosts[0].address);
      expect(params.get("apache.1:url.ssh")).toBe(`ssh://${hosts.user}@${hosts.hosts[0].address}`);
      expect(params.get("apache.1:instanceid")).toMatch(new RegExp(`^ssh-${hosts.hosts[0].address}-\\d+$`));
      const clientHosts = ["client.1", "client.2", "client.3"].map((c) => params.get(`${c}:hostname`));
      expect(new Set(clientHosts)).toEqual(new Set([hosts.hosts[1].address, hosts.hosts[2].address]));
      const { dir, files } = await fetchReports(server, run.id);
      const clients = Object.keys(files).filter((n) => n.startsWith("client."));
      expect(clients).toHaveLength(3);
      for (const c of clients) {
        const f = files[c].find((x) => x.endsWith("data.txt"))!;
        expect(await fs.readFile(path.join(dir, c.replace(".tgz", ""), f), "utf8")).toContain("Welcome to SlipStream!");
      }
      const apache = Object.keys(files).find((n) => n.startsWith("apache.1"))!;
      const accessLog = files[apache].find((f) => f.endsWith("access.log"))!;
      // requests came from the client namespaces, not from loopback
      const access = await fs.readFile(path.join(dir, apache.replace(".tgz", ""), accessLog), "utf8");
      expect(access).toContain(hosts.hosts[1].address);
      // stop removed the workspaces and the keys added for the run
      await expect(fs.readdir(path.join(hosts.home, ".slipstream", run.id))).rejects.toThrow();
      const ak = await fs.readFile(path.join(hosts.home, ".ssh", "authorized_keys"), "utf8").catch(() => "");
      expect(ak).not.toContain(run.id);
    }, 120_000);

    it("a host whose sshd is down: the run aborts naming it, the other reports are still collected", async () => {
      addCloud("ssh-d", [host(3, 1)]);
      await hosts.hosts[3].stopSshd();
      const { run, w } = await launch({ module: `${TUTORIAL}/system`, clouds: { apache: "ssh-a", client: "ssh-d" } });
      expect((await w.ended()).body).toMatchObject({ to: "Aborted" });
      const detail = (await server.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
      expect(detail.abort).toContain(`Failed to start 'client.1' on cloud 'ssh-d': host ${hosts.hosts[3].address}:`);
      expect(detail.abort).toContain("connection refused");
      const { files } = await fetchReports(server, run.id);
      expect(Object.keys(files).some((n) => n.startsWith("orchestrator_report_"))).toBe(true);
    }, 120_000);

    it("debugging over SSH: keep running on error, log in with the profile key, ss-abort --cancel, re-run execute", async () => {
      const { run, w } = await launch({
        module: `${TUTORIAL}/system-failing`,
        keepRunning: "on-error",
        clouds: { apache: "ssh-a", client: "ssh-bc" },
      });
      await w.until(
        (e, all) =>
          e.body.type === "instance" &&
          e.body.status === "completed" &&
          e.body.state === "Ready" &&
          all.filter((x) => x.body.type === "instance" && x.body.status === "completed" && x.body.state === "Ready")
            .length === 2,
      );
      const detail = (await server.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
      expect(detail.state).toBe("Ready");
      expect(detail.abort).toMatch(/could not download data\.txt/);
      const params = new Map(
        w.events.flatMap((e) => (e.body.type === "param" ? [[e.body.key, e.body.value] as const] : [])),
      );
      const clientHost = params.get("client.1:hostname")!;
      // the person's own key (from the profile), not the cloud's credential
      const c = await connectHost({
        address: clientHost,
        port: 22,
        username: hosts.user,
        privateKey: userKey.privateKey,
        maxInstances: 1,
      });
      try {
        const ws = `${hosts.home}/.slipstream/${run.id}/client.1`;
        // what the run page and `slipstream status` tell the person to type
        const inst = detail.instances.find((i) => i.name === "client.1")!;
        expect(inst.workspace).toBe(ws);
        expect(debugCommands(params.get("client.1:url.ssh"), inst.workspace)?.[0]).toBe(
          `ssh ${hosts.user}@${clientHost}`,
        );
        const sh = (cmd: string) => execRemote(c, `cd '${ws}' && . ./slipstream.setenv && ${cmd}`);
        const cancel = await sh("ss-abort --cancel");
        expect(cancel.code, cancel.stderr).toBe(0);
        expect((await server.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.abort).toBeNull();
        const port = await sh("ss-get apache:port");
        expect(port.stdout.trim()).toMatch(/^\d+$/);
        // the failing execute, re-run by hand from its file: it fails the same way (port 9) and aborts again
        const rerun = await sh("sh -xe ./targets/execute");
        expect(rerun.code).not.toBe(0);
        expect(rerun.stderr).toContain(`http://${params.get("apache.1:hostname")}:9/data.txt`);
        expect((await server.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.abort).toMatch(
          /^Client client\.1 could not download data\.txt from http:\/\/10\.213\./,
        );
      } finally {
        c.end();
      }
      expect((await server.api("POST", `/api/runs/${run.id}/terminate`)).status).toBe(200);
      // the re-run set the abort flag again, so terminating ends the run Aborted
      expect((await w.ended()).body).toMatchObject({ to: "Aborted" });
      await expect(fs.readdir(path.join(hosts.home, ".slipstream", run.id))).rejects.toThrow();
      const ak = await fs.readFile(path.join(hosts.home, ".ssh", "authorized_keys"), "utf8").catch(() => "");
      expect(ak).not.toContain(run.id);
    }, 120_000);

    it("a start that fails after the workspace and keys were made removes them, and the run aborts naming host and cause", async () => {
      // an agent bundle whose agent exits at once: the start fails after the upload and authorized_keys
      const broken = await fs.mkdtemp(path.join(os.tmpdir(), "ss-broken-agent-"));
      await fs.writeFile(
        path.join(broken, "agent.mjs"),
        'console.error("agent exploded on purpose"); process.exit(7);\n',
      );
      await fs.writeFile(path.join(broken, "ss.mjs"), "\n");
      server.app.connectors.set(
        "ssh-broken",
        createSshConnector(
          { name: "ssh-broken", hosts: [host(2, 1)], agentServiceUrl: `http://${hosts.gateway}:${server.port}` },
          { bundleDir: broken, authorizedKeys: () => [userKey.publicKey], killGraceSeconds: 1 },
        ),
      );
      const { run, w } = await launch({ module: `${TUTORIAL}/apache`, clouds: { machine: "ssh-broken" } });
      expect((await w.ended()).body).toMatchObject({ to: "Aborted" });
      const detail = (await server.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
      expect(detail.abort).toContain(
        `Failed to start 'machine.1' on cloud 'ssh-broken': host ${hosts.hosts[2].address}: the agent did not start`,
      );
      expect(detail.abort).toContain("agent exploded on purpose");
      await expect(fs.readdir(path.join(hosts.home, ".slipstream", run.id))).rejects.toThrow();
      const ak = await fs.readFile(path.join(hosts.home, ".ssh", "authorized_keys"), "utf8").catch(() => "");
      expect(ak).not.toContain(`slipstream:${run.id}:`);
      await fs.rm(broken, { recursive: true, force: true });
    }, 60_000);

    it("a host without Node ≥ 20 is refused naming it and the node found; nothing is left behind", async () => {
      await fs.rm(path.join(extraBin(), "node"), { force: true });
      await startExtraSshd(path.join(netnsDir(), "host"));
      const c = extraConnector();
      await expect(c.start(extraLaunch("r-nonode"))).rejects.toThrow(
        `host ${hosts.hosts[4].address}:${EXTRA_PORT}: Node ≥ 20 is required (found no node on PATH)`,
      );
      await fs.writeFile(path.join(extraBin(), "node"), "#!/bin/sh\necho v18.19.0\n", { mode: 0o755 });
      await expect(c.start(extraLaunch("r-oldnode"))).rejects.toThrow(
        `host ${hosts.hosts[4].address}:${EXTRA_PORT}: Node ≥ 20 is required (found v18.19.0)`,
      );
      for (const r of ["r-nonode", "r-oldnode"]) {
        await expect(fs.readdir(path.join(hosts.home, ".slipstream", r))).rejects.toThrow();
      }
    }, 60_000);

    it("host keys are pinned on first connect: a host offering another key later is refused", async () => {
      await startExtraSshd(path.join(netnsDir(), "host"));
      const pinned: string[] = [];
      const c = extraConnector((h, fp) => pinned.push(`${h.address}:${h.port} ${fp}`));
      // the start fails (no usable node there) after the connect, which pins the key
      await expect(c.start(extraLaunch("r-pin1"))).rejects.toThrow(/Node ≥ 20 is required/);
      const { stdout } = await exec("ssh-keygen", ["-l", "-f", path.join(netnsDir(), "host.pub")]);
      const fp = stdout.split(/\s+/)[1];
      expect(fp).toMatch(/^SHA256:/);
      expect(pinned).toEqual([`${hosts.hosts[4].address}:${EXTRA_PORT} ${fp}`]);
      // the same key again: accepted
      await expect(c.start(extraLaunch("r-pin2"))).rejects.toThrow(/Node ≥ 20 is required/);
      // the host comes back with another key
      const other = path.join(extraDir, "other-host");
      await fs.rm(other, { force: true });
      await exec("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
      await startExtraSshd(other);
      await expect(c.start(extraLaunch("r-pin3"))).rejects.toThrow(
        new RegExp(
          `^host ${hosts.hosts[4].address.replace(/\./g, "\\.")}:${EXTRA_PORT}: the host key changed \\(pinned ${fp.replace(/[+/]/g, "\\$&")}, offered SHA256:`,
        ),
      );
      expect(pinned).toHaveLength(1);
      // a connector built with a pin (as a stored cloud is) refuses a host offering another key
      const pre = createSshConnector(
        { name: "ssh-pinned", hosts: [{ ...host(0, 1), hostKey: fp.replace(/.$/, (ch) => (ch === "A" ? "B" : "A")) }] },
        { bundleDir: path.join(server.dataDir, "agent") },
      );
      await expect(pre.start(extraLaunch("r-pin4"))).rejects.toThrow(
        `host ${hosts.hosts[0].address}: the host key changed`,
      );
    }, 60_000);

    it("a cloud deleted while a run uses it: new runs are refused, the run's machine still stops cleanly", async () => {
      const created = await server.api("POST", "/api/clouds", {
        name: "pool-b",
        hosts: [
          { address: hosts.hosts[1].address, username: hosts.user, privateKey: hosts.clientKey, maxInstances: 1 },
        ],
        agentServiceUrl: `http://${hosts.gateway}:${server.port}`,
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const { run, w } = await launch({
        module: `${TUTORIAL}/apache`,
        clouds: { machine: "pool-b" },
        keepRunning: "always",
      });
      await w.until((e) => e.body.type === "state" && e.body.to === "Ready");
      // the host key was pinned into the stored definition on the first connect
      const { stdout } = await exec("ssh-keygen", ["-l", "-f", path.join(netnsDir(), "host.pub")]);
      const row = server.app.db.$client.prepare("select config from clouds where name = 'pool-b'").get() as {
        config: string;
      };
      expect(JSON.parse(row.config).hosts[0].hostKey).toBe(stdout.split(/\s+/)[1]);
      const ws = path.join(hosts.home, ".slipstream", run.id);
      expect((await fs.readdir(ws)).length).toBe(1);

      expect((await server.api("DELETE", "/api/clouds/pool-b")).status).toBe(200);
      const refused = await server.api<{ error: { message: string } }>("POST", "/api/runs", {
        module: `${TUTORIAL}/apache`,
        clouds: { machine: "pool-b" },
        keepRunning: "never",
      });
      expect(refused.status).toBe(400);
      expect(refused.body.error.message).toContain("clouds.machine: unknown cloud 'pool-b'");

      expect((await server.api("POST", `/api/runs/${run.id}/terminate`)).status).toBe(200);
      expect((await w.ended()).body).toMatchObject({ to: "Done" });
      expect(w.events.some((e) => e.body.type === "instance" && e.body.status === "down")).toBe(true);
      await expect(fs.readdir(ws)).rejects.toThrow();
    }, 120_000);
  },
);
