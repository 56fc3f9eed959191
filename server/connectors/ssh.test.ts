import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InstanceDebugInfo } from "../../protocol/debug-info.js";
import { debugCommands, type RunDetail } from "../../protocol/run.js";
import { addMember } from "../http/team-fixtures.js";
import { startTestServer, type TestServer } from "../testing/harness.js";
import { createTestHosts, generateKeyPair, netnsUnavailable, type TestHosts } from "../testing/netns.js";
import { fetchReports } from "../testing/reports.js";
import { completedInReady, RunWatcher } from "../testing/watch.js";
import { watchedRun } from "../testing/watched-run.js";
import { connectHost, execRemote, type SshHost } from "./ssh/client.js";
import { createSshConnector } from "./ssh/connector.js";
import type { InstanceLaunch } from "./types.js";

const exec = promisify(execFile);

const unavailable = await netnsUnavailable();
// CI installs sshd and iproute2 and runs as root: there a missing piece is a failure, not a reason to skip
if (unavailable && process.env.CI === "true") throw new Error(`ssh cloud tests cannot run in CI: ${unavailable}`);
const TUTORIAL = "examples/tutorials/service-testing";

let hosts: TestHosts;
let server: TestServer;
let userKey: { privateKey: string; publicKey: string };
const watchers: RunWatcher[] = [];

/** The test server listens on every interface so agents in the namespaces reach it through the bridge. */
async function bootServer(): Promise<TestServer> {
  return startTestServer({ host: "0.0.0.0", killGraceSeconds: 2 });
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

/** `setEnv`: what sshd sets in the sessions (SetEnv), by default PATH=<extraBin> only. */
async function startExtraSshd(hostKey: string, setEnv?: string[]): Promise<void> {
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
      `SetEnv ${(setEnv ?? [`PATH=${extraBin()}`]).join(" ")}`,
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

/** A tiny tmpfs (mounted by the test, unmounted in afterAll) used as one host's home: a full disk. */
let smallFs = "";
async function mountSmallFs(sizeKiB: number): Promise<string> {
  if (smallFs) return smallFs;
  const dir = await fs.mkdtemp(path.join(netnsDir(), "small-"));
  const uid = (await exec("id", ["-u", hosts.user])).stdout.trim();
  await exec("mount", ["-t", "tmpfs", "-o", `size=${sizeKiB}k,mode=0755,uid=${uid}`, "ss-small-home", dir]);
  smallFs = dir;
  return dir;
}

const launch = (body: Record<string, unknown>) => watchedRun(server, watchers, body);

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
      if (smallFs) await exec("umount", ["-l", smallFs]).catch(() => undefined);
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
      expect(params.get("apache.1:instanceid")).toMatch(
        new RegExp(`^ssh-\\[${hosts.hosts[0].address.replace(/\./g, "\\.")}\\]:22-\\d+$`),
      );
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
      // the machine that did start sent its report (run-rules R8b)
      expect(Object.keys(files).some((n) => n.startsWith("apache.1_report_"))).toBe(true);
    }, 120_000);

    it("debugging over SSH: keep running on error, log in with the profile key, ss-abort --cancel, re-run execute", async () => {
      const { run, w } = await launch({
        module: `${TUTORIAL}/system-failing`,
        keepRunning: "on-error",
        clouds: { apache: "ssh-a", client: "ssh-bc" },
      });
      await w.until(completedInReady(2));
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
        // the instance's debug info says the same, from the server
        const dbg = await server.api<InstanceDebugInfo>("GET", `/api/runs/${run.id}/instances/client.1/debug`);
        expect(dbg.body).toMatchObject({
          cloudKind: "ssh",
          enter: `ssh ${hosts.user}@${clientHost}`,
          enterFrom: "anywhere",
          setenv: `cd ${ws} && . ./slipstream.setenv`,
        });
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

    it("a host key given by the admin is the only one accepted; a refusal names both fingerprints", async () => {
      await startExtraSshd(path.join(netnsDir(), "host"));
      const fp = (await exec("ssh-keygen", ["-l", "-f", path.join(netnsDir(), "host.pub")])).stdout.split(/\s+/)[1];
      const wrong = fp.replace(/.$/, (ch) => (ch === "A" ? "B" : "A"));
      const seen: string[] = [];
      const withKey = (hostKey: string) =>
        createSshConnector(
          { name: "ssh-e", hosts: [{ ...host(4, 1), port: EXTRA_PORT, hostKey, hostKeyPinnedBy: "admin" }] },
          {
            bundleDir: path.join(server.dataDir, "agent"),
            onHostKeyPinned: (_h, key, at) => seen.push(`${key} ${typeof at}`),
          },
        );
      // the right key: the connect succeeds (the start then fails on the host's missing Node), and is recorded as seen
      await expect(withKey(fp).start(extraLaunch("r-given1"))).rejects.toThrow(/Node ≥ 20 is required/);
      expect(seen).toEqual([`${fp} string`]);
      const esc = (t: string) => t.replace(/[.+/]/g, "\\$&");
      await expect(withKey(wrong).start(extraLaunch("r-given2"))).rejects.toThrow(
        new RegExp(
          `^host ${esc(hosts.hosts[4].address)}:${EXTRA_PORT}: the host key is not the one the cloud expects \\(expected ${esc(wrong)}, offered ${esc(fp)}\\); refusing to connect`,
        ),
      );
      expect(seen).toHaveLength(1);
    }, 60_000);

    it("concurrent first connects to a host without a pinned key run one at a time: one accepts a key, the rest require it", async () => {
      await startExtraSshd(path.join(netnsDir(), "host"));
      // a relay on loopback in front of the host's sshd counts the connections made
      let opened = 0;
      const relay = net.createServer((client) => {
        opened++;
        const upstream = net.connect(EXTRA_PORT, hosts.hosts[4].address);
        client.pipe(upstream).pipe(client);
        const close = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on("error", close);
        upstream.on("error", close);
      });
      await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
      try {
        const port = (relay.address() as net.AddressInfo).port;
        const openedAtPin: number[] = [];
        const c = createSshConnector(
          { name: "ssh-e", hosts: [{ ...host(4, 3), address: "127.0.0.1", port }] },
          { bundleDir: path.join(server.dataDir, "agent"), onHostKeyPinned: () => openedAtPin.push(opened) },
        );
        // settled together: a later start may fail before an earlier one is awaited
        const settled = await Promise.allSettled(
          ["r-first1", "r-first2", "r-first3"].map((r) => c.start(extraLaunch(r))),
        );
        for (const st of settled) {
          expect(st.status).toBe("rejected");
          expect(String((st as PromiseRejectedResult).reason)).toMatch(/Node ≥ 20 is required/);
        }
        // when the key was pinned, the other two had not even dialled the host
        expect(openedAtPin).toEqual([1]);
        // one connection per start (the clean-up after its failure uses the same one)
        expect(opened).toBe(3);
      } finally {
        relay.close();
      }
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
      // and shown to the admin, to compare with the host's own
      const listed = await server.api<{ clouds: { name: string; hosts: { hostKey: unknown }[] }[] }>(
        "GET",
        "/api/clouds",
      );
      expect(listed.body.clouds.find((c) => c.name === "pool-b")?.hosts[0].hostKey).toEqual({
        sha256: stdout.split(/\s+/)[1],
        pinnedBy: "first-use",
        seenAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
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
    it("maxInstances holds across a connector rebuilt from the instances table (restart, cloud update)", async () => {
      addCloud("ssh-re", [host(1, 1)]);
      const { run, w } = await launch({
        module: `${TUTORIAL}/apache`,
        clouds: { machine: "ssh-re" },
        keepRunning: "always",
      });
      await w.until((e) => e.body.type === "state" && e.body.to === "Ready");
      const id = w.events.find((e) => e.body.type === "param" && e.body.key === "machine.1:instanceid");
      const machineId = id?.body.type === "param" ? id.body.value : "";
      // the cloud is rebuilt (a server restart or an update) while the run still holds the host's only slot
      const rebuilt = createSshConnector(
        { name: "ssh-re", hosts: [host(1, 1)], agentServiceUrl: `http://${hosts.gateway}:${server.port}` },
        {
          bundleDir: path.join(server.dataDir, "agent"),
          authorizedKeys: () => [userKey.publicKey],
          killGraceSeconds: 2,
          instancesDb: server.app.db.$client,
        },
      );
      server.app.connectors.set("ssh-re", rebuilt);
      await expect(rebuilt.start({ ...extraLaunch("r-over"), cloud: "ssh-re" })).rejects.toThrow(
        "cloud ssh-re: every host is at its maxInstances (1 hosts)",
      );
      await expect(fs.readdir(path.join(hosts.home, ".slipstream", "r-over"))).rejects.toThrow();
      // host identity is address and port
      expect(machineId).toMatch(/^ssh-\[[0-9.]+\]:22-\d+$/);
      // the rebuilt connector stops the run's machine (found by address and port) and the slot is free again
      expect((await server.api("POST", `/api/runs/${run.id}/terminate`)).status).toBe(200);
      expect((await w.ended()).body).toMatchObject({ to: "Done" });
      await expect(fs.readdir(path.join(hosts.home, ".slipstream", run.id))).rejects.toThrow();
      const again = await launch({ module: `${TUTORIAL}/apache`, clouds: { machine: "ssh-re" } });
      expect((await again.w.ended()).body).toMatchObject({ to: "Done" });
    }, 120_000);

    it("recorded machine ids count per address and port; ids without a port (older servers) still count", async () => {
      const addr = hosts.hosts[1].address;
      const withRows = (ids: string[]) => ({
        prepare: () => ({ all: () => ids.map((machine_id) => ({ machine_id })) }),
      });
      const build = (port: number, ids: string[]) =>
        createSshConnector(
          { name: "ssh-ids", hosts: [{ ...host(1, 1), port }] },
          { bundleDir: path.join(server.dataDir, "agent"), connectTimeoutMs: 5_000, instancesDb: withRows(ids) },
        );
      const full = "cloud ssh-ids: every host is at its maxInstances (1 hosts)";
      await expect(build(22, [`ssh-${addr}-4242`]).start(extraLaunch("r-ids1"))).rejects.toThrow(full);
      await expect(build(22, [`ssh-[${addr}]:22-4242`]).start(extraLaunch("r-ids2"))).rejects.toThrow(full);
      // a machine on port 22 does not fill the host on port 2200 (nothing listens there: the start dials and fails)
      await expect(build(2200, [`ssh-[${addr}]:22-4242`]).start(extraLaunch("r-ids3"))).rejects.toThrow(
        `host ${addr}:2200: connection refused`,
      );
    }, 60_000);

    it("a full disk: the run aborts naming the host and the free space; a failed upload says the disk is full", async () => {
      const home = await mountSmallFs(256);
      await startExtraSshd(path.join(netnsDir(), "host"), [`HOME=${home}`]);
      const e = `${hosts.hosts[4].address}:${EXTRA_PORT}`;
      const full = (name: string) =>
        createSshConnector(
          { name, hosts: [{ ...host(4, 1), port: EXTRA_PORT }] },
          { bundleDir: path.join(server.dataDir, "agent"), authorizedKeys: () => [userKey.publicKey] },
        );
      server.app.connectors.set("ssh-full", full("ssh-full"));
      const { run, w } = await launch({ module: `${TUTORIAL}/apache`, clouds: { machine: "ssh-full" } });
      expect((await w.ended()).body).toMatchObject({ to: "Aborted" });
      const detail = (await server.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
      expect(detail.abort).toMatch(
        new RegExp(
          `^Failed to start 'machine\\.1' on cloud 'ssh-full': host ${e.replace(/\./g, "\\.")}: not enough free disk space in ${home}/\\.slipstream/${run.id}/machine\\.1 \\(\\d+ KiB free, bundle needs \\d+ KiB\\)$`,
        ),
      );
      await expect(fs.readdir(path.join(home, ".slipstream", run.id))).rejects.toThrow();

      // df says there is room (a first answer that is wrong), the SFTP upload then fails with a bare "Failure"
      const fake = path.join(extraDir, "fake-df");
      await fs.mkdir(fake, { recursive: true, mode: 0o777 });
      await fs.chmod(fake, 0o777);
      await fs.rm(path.join(fake, ".asked"), { force: true });
      await fs.writeFile(
        path.join(fake, "df"),
        `#!/bin/sh\nif [ -e ${fake}/.asked ]; then exec /usr/bin/df "$@"; fi\n: > ${fake}/.asked\necho "Filesystem 1024-blocks Used Available Capacity Mounted on"\necho "fake 9999999 0 9999999 0% /"\n`,
        { mode: 0o755 },
      );
      await startExtraSshd(path.join(netnsDir(), "host"), [`HOME=${home}`, `PATH=${fake}:/usr/bin:/bin`]);
      await expect(full("ssh-full2").start(extraLaunch("r-full"))).rejects.toThrow(
        new RegExp(
          `^host ${e.replace(/\./g, "\\.")}: upload to ${home}/\\.slipstream/r-full/machine\\.1 failed: the disk is full \\(\\d+ KiB free, bundle needs \\d+ KiB\\)$`,
        ),
      );
      await expect(fs.readdir(path.join(home, ".slipstream", "r-full"))).rejects.toThrow();
    }, 60_000);
    it("as a user does it: admin defines the cloud and opens it to the user, whose profile key is let in for the run and removed after (not at all once the admin says so)", async () => {
      // a stock test server (loopback only); the agents reach it through a forwarder on the test's bridge address
      const ts = await startTestServer({ killGraceSeconds: 2 });
      const fwd = net.createServer((inbound) => {
        const out = net.connect({ host: "127.0.0.1", port: ts.port });
        inbound.pipe(out).pipe(inbound);
        const drop = () => {
          inbound.destroy();
          out.destroy();
        };
        inbound.on("error", drop);
        out.on("error", drop);
      });
      await new Promise<void>((resolve) => fwd.listen(0, hosts.gateway, resolve));
      const fwdPort = (fwd.address() as net.AddressInfo).port;
      let watcher: RunWatcher | undefined;
      try {
        const created = await ts.api("POST", "/api/clouds", {
          name: "pool-c",
          hosts: [
            { address: hosts.hosts[2].address, username: hosts.user, privateKey: hosts.clientKey, maxInstances: 1 },
          ],
          agentServiceUrl: `http://${hosts.gateway}:${fwdPort}`,
        });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        const uma = await addMember(ts, "uma");
        const umaKey = await generateKeyPair();
        const profile = (
          await ts.api<{ profile: Record<string, unknown> }>("GET", "/api/profile", undefined, uma.token)
        ).body.profile;
        const put = await ts.api("PUT", "/api/profile", { ...profile, sshKeys: [umaKey.publicKey] }, uma.token);
        expect(put.status, JSON.stringify(put.body)).toBe(200);
        const body = { module: `${TUTORIAL}/apache`, clouds: { machine: "pool-c" }, keepRunning: "always" };
        // an SSH cloud is for admins until an admin opens it
        const refused = await ts.api<{ error: { message: string } }>("POST", "/api/runs", body, uma.token);
        expect(refused.status).toBe(403);
        expect(refused.body.error.message).toMatch(/^clouds\.machine: the cloud 'pool-c' is not open to you/);
        expect((await ts.api("PUT", "/api/clouds/pool-c/access", { users: ["uma"] }, uma.token)).status).toBe(403);
        const opened = await ts.api("PUT", "/api/clouds/pool-c/access", { users: ["uma"] });
        expect(opened.body).toEqual({ cloud: "pool-c", roles: [], users: ["uma"], installKeys: true, default: false });
        const res = await ts.api<RunDetail>("POST", "/api/runs", body, uma.token);
        expect(res.status, JSON.stringify(res.body)).toBe(201);
        const run = res.body;
        watcher = new RunWatcher(ts.url, uma.token, run.id);
        const w = watcher;
        await w.until((e) => e.body.type === "state" && e.body.to === "Ready");
        const core = umaKey.publicKey.trim().split(/\s+/).slice(0, 2).join(" ");
        const keysFile = path.join(hosts.home, ".ssh", "authorized_keys");
        const lines = (await fs.readFile(keysFile, "utf8")).split("\n");
        expect(lines).toContain(`${core} slipstream:${run.id}:machine.1`);
        // and the user logs in with it
        const c = await connectHost({
          address: hosts.hosts[2].address,
          port: 22,
          username: hosts.user,
          privateKey: umaKey.privateKey,
          maxInstances: 1,
        });
        const who = await execRemote(c, "id -un");
        c.end();
        expect(who.stdout.trim()).toBe(hosts.user);
        expect((await ts.api("POST", `/api/runs/${run.id}/terminate`, undefined, uma.token)).status).toBe(200);
        expect((await w.ended()).body).toMatchObject({ to: "Done" });
        const after = await fs.readFile(keysFile, "utf8").catch(() => "");
        expect(after).not.toContain(core);
        expect(after).not.toContain(run.id);

        // the admin keeps owners' keys off this cloud's hosts: the next run's machine does not let uma in
        await ts.api("PUT", "/api/clouds/pool-c/access", { users: ["uma"], installKeys: false });
        const again = (await ts.api<RunDetail>("POST", "/api/runs", body, uma.token)).body;
        const w2 = new RunWatcher(ts.url, uma.token, again.id);
        try {
          await w2.until((e) => e.body.type === "state" && e.body.to === "Ready");
          expect(await fs.readFile(keysFile, "utf8").catch(() => "")).not.toContain(core);
          expect((await ts.api("POST", `/api/runs/${again.id}/terminate`, undefined, uma.token)).status).toBe(200);
          expect((await w2.ended()).body).toMatchObject({ to: "Done" });
        } finally {
          w2.close();
        }
      } finally {
        watcher?.close();
        await ts.close({ stopInstances: true });
        await new Promise((resolve) => fwd.close(resolve));
      }
    }, 120_000);
  },
);
