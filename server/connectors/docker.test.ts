import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InstanceDebugInfo } from "../../protocol/debug-info.js";
import type { RunDetail } from "../../protocol/run.js";
import { resumeDockerClouds } from "../clouds/docker-cloud.js";
import {
  dockerUnavailable,
  importApacheImage,
  importBusyboxImage,
  runLeftovers,
  startTestEngine,
  type TestEngine,
} from "../testing/docker-engine.js";
import { runEnds, runReaches, startTestServer, type TestServer } from "../testing/harness.js";
import { fetchReports } from "../testing/reports.js";
import { completedInReady, type RunWatcher } from "../testing/watch.js";
import { watchedRun } from "../testing/watched-run.js";
import { createDockerConnector, type DockerConnector, RUN_LABEL } from "./docker/connector.js";
import { runImages } from "./docker/run-images.js";

const exec = promisify(execFile);
const TUTORIAL = "examples/tutorials/service-testing";
const WELCOME = "Welcome to SlipStream!";

const unavailable = await dockerUnavailable();
// CI installs docker.io, apache2 and wget and runs as root: there a missing piece is a failure, not a reason to skip
if (unavailable && process.env.CI === "true") throw new Error(`docker cloud tests cannot run in CI: ${unavailable}`);

let engine: TestEngine;
let server: TestServer;
let cloud: DockerConnector;
const watchers: RunWatcher[] = [];

const launch = (body: Record<string, unknown>) => watchedRun(server, watchers, body);

async function reportText(runId: string, prefix: string, suffix: string): Promise<string> {
  const { dir, files } = await fetchReports(server, runId);
  const name = Object.keys(files).find((n) => n.startsWith(prefix));
  expect(name, `a report of ${prefix} in ${Object.keys(files).join(", ")}`).toBeDefined();
  const f = files[name!].find((x) => x.endsWith(suffix));
  expect(f, `${suffix} in ${prefix}'s report: ${files[name!].join(", ")}`).toBeDefined();
  return fs.readFile(path.join(dir, name!.replace(".tgz", ""), f!), "utf8");
}

describe.skipIf(unavailable !== null)(
  `the docker cloud on a private Docker Engine${unavailable ? ` (skipped: ${unavailable})` : ""}`,
  () => {
    beforeAll(async () => {
      // the unix socket, and loopback TCP with TLS client certificates for the test of that way in
      engine = await startTestEngine({ tls: true });
      // the tutorial's modules name debian:12; no registry is reachable, so it is this host's Debian, with apache2
      await importApacheImage(engine, "debian:12");
      // the local cloud unsandboxed: its instances share the host's network, which reaches the runs' bridges
      server = await startTestServer({ killGraceSeconds: 2, local: { sandbox: false } });
      cloud = createDockerConnector({
        name: "dock",
        engine: { socketPath: engine.socketPath },
        bundleDir: path.join(server.dataDir, "agent"),
        imagesOf: runImages(server.app.db.$client),
        killGraceSeconds: 2,
        limits: { memoryBytes: 256 * 1024 * 1024, pids: 256, cpus: 0.5 },
      });
      server.app.connectors.set("dock", cloud);
    }, 120_000);

    afterAll(async () => {
      for (const w of watchers.splice(0)) w.close();
      await server?.close({ stopInstances: true });
      await cloud?.close();
      await engine?.stop();
    }, 60_000);

    it("the tutorial with 1 client: real apache2 on port 80 in its container, data.txt fetched over the run's network", async () => {
      const { run, w } = await launch({ module: `${TUTORIAL}/system`, clouds: { apache: "dock", client: "dock" } });
      const end = await w.ended();
      const detail = (await server.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
      expect(end.body, JSON.stringify(detail.abort)).toMatchObject({ to: "Done" });
      const p = w.params();
      const apacheIp = p.get("apache.1:hostname")!;
      const clientIp = p.get("client.1:hostname")!;
      expect(apacheIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(clientIp).not.toBe(apacheIp);
      expect(p.get("apache.1:port")).toBe("80");
      expect(p.get("client.1:statecustom")).toBe(`OK: ${WELCOME}`);
      // Apache's own log (/var/log/apache2), with the client container's address and wget's user agent
      const access = await reportText(run.id, "apache.1", "access.log");
      expect(access).toMatch(
        new RegExp(`^${clientIp.replace(/\./g, "\\.")} .*"GET /data.txt HTTP/1.1" 200 .*Wget`, "m"),
      );
      // the real server, not the tutorial's stand-in: Apache's error log names it
      expect(await reportText(run.id, "apache.1", "error.log")).toMatch(/Apache\/2\.4\.\d+ \(Debian\)/);
      expect(await reportText(run.id, "client.1", "data.txt")).toContain(WELCOME);
      expect(await runLeftovers(engine, run.id)).toEqual({ containers: [], networks: [] });
    }, 180_000);

    it("the tutorial with 5 clients ends Done, each client in a container of its own", async () => {
      const { run, w } = await launch({
        module: `${TUTORIAL}/system`,
        multiplicity: { client: 5 },
        clouds: { apache: "dock", client: "dock" },
      });
      const end = await w.ended();
      const detail = (await server.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
      expect(end.body, JSON.stringify(detail.abort)).toMatchObject({ to: "Done" });
      const p = w.params();
      const ips = [1, 2, 3, 4, 5].map((i) => p.get(`client.${i}:hostname`));
      expect(new Set(ips).size).toBe(5);
      for (let i = 1; i <= 5; i++) expect(p.get(`client.${i}:statecustom`)).toBe(`OK: ${WELCOME}`);
      expect(await runLeftovers(engine, run.id)).toEqual({ containers: [], networks: [] });
    }, 240_000);

    it("a client that cannot download aborts the run; its containers and network are removed all the same", async () => {
      const { run, w } = await launch({
        module: `${TUTORIAL}/system-failing`,
        clouds: { apache: "dock", client: "dock" },
      });
      expect((await w.ended()).body).toMatchObject({ to: "Aborted" });
      const detail = (await server.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
      expect(detail.abort).toContain("Client client.1 could not download data.txt from http://");
      expect(await runLeftovers(engine, run.id)).toEqual({ containers: [], networks: [] });
    }, 180_000);

    it("a mixed run: apache in a container, the client on the local cloud fetching from the container's address", async () => {
      const { run, w } = await launch({ module: `${TUTORIAL}/system`, clouds: { apache: "dock", client: "local" } });
      const end = await w.ended();
      const detail = (await server.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
      expect(end.body, JSON.stringify(detail.abort)).toMatchObject({ to: "Done" });
      const p = w.params();
      expect(p.get("apache.1:instanceid")).toMatch(/^[0-9a-f]{64}$/);
      expect(p.get("client.1:statecustom")).toBe(`OK: ${WELCOME}`);
      expect(await runLeftovers(engine, run.id)).toEqual({ containers: [], networks: [] });
    }, 180_000);

    it("debugging in a container: keep running on error, ss-abort --cancel from the login shell, terminate cleans up", async () => {
      const { run, w } = await launch({
        module: `${TUTORIAL}/system-failing`,
        keepRunning: "on-error",
        clouds: { apache: "dock", client: "dock" },
      });
      await w.until(completedInReady(2));
      const detail = (await server.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
      expect(detail.abort).toMatch(/could not download data\.txt/);
      const login = detail.instances.find((i) => i.name === "client.1")!.login!;
      // what the run page shows: a shell in the instance's workspace through the engine
      expect(login).toBe(
        `docker -H unix://${engine.socketPath} exec -it -w /var/lib/slipstream/workspace ss-${run.id}-client-1 /bin/sh`,
      );
      // the instance's debug info gives that line first, from the server
      const dbg = await server.api<InstanceDebugInfo>("GET", `/api/runs/${run.id}/instances/client.1/debug`);
      expect(dbg.body).toMatchObject({ cloudKind: "docker", enter: login, enterFrom: "server" });
      expect(dbg.body.commands.slice(1)).toEqual([
        "cd /var/lib/slipstream/workspace && . ./slipstream.setenv",
        "ss-abort --cancel",
        "./targets/execute",
      ]);
      const sh = (cmd: string) =>
        engine.docker(["exec", "-w", "/var/lib/slipstream/workspace", `ss-${run.id}-client-1`, "/bin/sh", "-c", cmd]);
      await sh(". ./slipstream.setenv && ss-abort --cancel");
      expect((await server.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.abort).toBeNull();
      expect((await sh(". ./slipstream.setenv && ss-get apache:port")).trim()).toBe("80");
      expect((await server.api("POST", `/api/runs/${run.id}/terminate`)).status).toBe(200);
      expect((await w.ended()).body).toMatchObject({ to: "Done" });
      expect(await runLeftovers(engine, run.id)).toEqual({ containers: [], networks: [] });
    }, 180_000);

    it("a docker cloud over TCP with TLS client certificates runs the apache image; a certificate the engine's CA did not sign is refused, saying so", async () => {
      const tls = engine.tls!;
      const created = await server.api<Record<string, unknown>>("POST", "/api/clouds", {
        name: "dock-tls",
        kind: "docker",
        docker: { host: "127.0.0.1", port: tls.port, ca: tls.ca, cert: tls.cert, clientKey: tls.key },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body).toMatchObject({ kind: "docker", docker: { host: "127.0.0.1", hasClientKey: true } });
      expect(JSON.stringify(created.body)).not.toContain("PRIVATE KEY");
      const { run, w } = await launch({ module: `${TUTORIAL}/apache`, clouds: { machine: "dock-tls" } });
      const end = await w.ended();
      const detail = (await server.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
      expect(end.body, JSON.stringify(detail.abort)).toMatchObject({ to: "Done" });
      expect(w.params().get("machine.1:port")).toBe("80");
      expect(await runLeftovers(engine, run.id)).toEqual({ containers: [], networks: [] });

      // a client certificate from a CA the engine does not trust: the TLS handshake fails, the run says why
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-tls-"));
      try {
        await fs.writeFile(path.join(dir, "ca.pem"), tls.otherCaCert);
        await fs.writeFile(path.join(dir, "ca-key.pem"), tls.otherCaKey);
        const ssl = (args: string[]) => exec("openssl", args, { cwd: dir });
        await ssl(
          ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=intruder"].concat([
            "-keyout",
            "k.pem",
            "-out",
            "c.csr",
          ]),
        );
        await ssl(
          [
            "x509",
            "-req",
            "-in",
            "c.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "1",
          ].concat(["-out", "c.pem"]),
        );
        const wrong = await server.api("POST", "/api/clouds", {
          name: "dock-tls-wrong",
          kind: "docker",
          docker: {
            host: "127.0.0.1",
            port: tls.port,
            ca: tls.ca,
            cert: await fs.readFile(path.join(dir, "c.pem"), "utf8"),
            clientKey: await fs.readFile(path.join(dir, "k.pem"), "utf8"),
          },
        });
        expect(wrong.status, JSON.stringify(wrong.body)).toBe(201);
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
      const refused = await launch({ module: `${TUTORIAL}/apache`, clouds: { machine: "dock-tls-wrong" } });
      expect((await refused.w.ended()).body).toMatchObject({ to: "Aborted" });
      const abort = (await server.api<RunDetail>("GET", `/api/runs/${refused.run.id}`)).body.abort;
      expect(abort).toMatch(/Failed to start 'machine\.1' on cloud 'dock-tls-wrong'/);
      // e.g. "… SSL routines:ssl3_read_bytes:sslv3 alert bad certificate …"
      expect(abort).toMatch(/bad certificate/);
    }, 180_000);

    it("an admin adds a docker cloud through the API; it is for admins until opened, and runs the apache image", async () => {
      const bad = await server.api<{ error: { field?: string } }>("POST", "/api/clouds", {
        name: "dock-api",
        kind: "docker",
        docker: { host: "engine.example", port: 2376 },
      });
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.body)).toContain("docker.ca");
      const created = await server.api<Record<string, unknown>>("POST", "/api/clouds", {
        name: "dock-api",
        kind: "docker",
        docker: { socketPath: engine.socketPath },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body).toMatchObject({
        kind: "docker",
        hosts: [],
        docker: { socketPath: engine.socketPath, hasClientKey: false },
      });
      const access = await server.api<{ roles: string[] }>("GET", "/api/clouds/dock-api/access");
      expect(access.body.roles).toEqual(["admin"]);
      const { run, w } = await launch({ module: `${TUTORIAL}/apache`, clouds: { machine: "dock-api" } });
      const end = await w.ended();
      const detail = (await server.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
      expect(end.body, JSON.stringify(detail.abort)).toMatchObject({ to: "Done" });
      expect(w.params().get("machine.1:port")).toBe("80");
      expect(await runLeftovers(engine, run.id)).toEqual({ containers: [], networks: [] });
      // boot reconcile: what a server that died left of a run on this cloud is found by label and removed
      await engine.docker([
        "network",
        "create",
        "--internal",
        "--label",
        `${RUN_LABEL}=r-gone`,
        "--label",
        "slipstream.cloud=dock-api",
        "ss-r-gone",
      ]);
      await engine.docker([
        "create",
        "--network",
        "ss-r-gone",
        "--label",
        `${RUN_LABEL}=r-gone`,
        "--label",
        "slipstream.cloud=dock-api",
        "debian:12",
        "/bin/sh",
      ]);
      expect((await runLeftovers(engine, "r-gone")).containers).toHaveLength(1);
      await resumeDockerClouds(server.app, server.url);
      expect(await runLeftovers(engine, "r-gone")).toEqual({ containers: [], networks: [] });
    }, 180_000);

    it("a server restart: agents in their containers reconnect through the run's relay at the same address", async () => {
      const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-docker-restart-"));
      let s = await startTestServer({ dataDir, killGraceSeconds: 2 });
      const port = s.port;
      try {
        const made = await s.api("POST", "/api/clouds", {
          name: "dock-r",
          kind: "docker",
          docker: { socketPath: engine.socketPath },
        });
        expect(made.status, JSON.stringify(made.body)).toBe(201);
        const res = await s.api<RunDetail>("POST", "/api/runs", {
          module: `${TUTORIAL}/apache`,
          keepRunning: "always",
          clouds: { machine: "dock-r" },
        });
        expect(res.status, JSON.stringify(res.body)).toBe(201);
        const runId = res.body.id;
        await runReaches(s, runId, "Ready");
        await s.close();
        s = await startTestServer({ dataDir, port, killGraceSeconds: 2 });
        // ss-get goes through the agent to the server: it answers only once the agent is connected again
        const got = await engine.docker([
          "exec",
          "-w",
          "/var/lib/slipstream/workspace",
          `ss-${runId}-machine-1`,
          "/bin/sh",
          "-c",
          ". ./slipstream.setenv && ss-get --timeout 60 port",
        ]);
        expect(got.trim()).toBe("80");
        expect((await s.api("POST", `/api/runs/${runId}/terminate`)).status).toBe(200);
        expect((await runEnds(s, runId)).state).toBe("Done");
        expect(await runLeftovers(engine, runId)).toEqual({ containers: [], networks: [] });
      } finally {
        await s.close({ stopInstances: true });
      }
    }, 180_000);

    it("an image with no C library and no Node (a static busybox): the agent runs on the server's Node through the host's loader, ss-* commands work", async () => {
      await importBusyboxImage(engine, "busybox:static");
      // nothing of a C library in the image: had the agent needed the image's, it would not have started
      const ls = await engine.docker([
        "run",
        "--rm",
        "--network",
        "none",
        "busybox:static",
        "/bin/sh",
        "-c",
        "ls /lib* /usr 2>&1; echo end",
      ]);
      expect(ls.trim().split("\n").at(-1)).toBe("end");
      expect(ls).not.toMatch(/libc|ld-linux/);
      const yaml = [
        "kind: image",
        "description: a busybox and nothing else",
        "images: { docker: busybox:static }",
        "parameters:",
        "  - { name: greeting, category: output }",
        "targets:",
        "  execute: |",
        "    #!/bin/sh -e",
        '    ss-set greeting "hello from $(hostname), $(busybox | head -1 | cut -d" " -f1-2)"',
        '    ss-display "$(ss-get greeting)"',
      ].join("\n");
      const pushed = await server.api("POST", "/api/modules/import", { files: [{ path: "team/busybox", yaml }] });
      expect(pushed.status, JSON.stringify(pushed.body)).toBeLessThan(300);
      const { run, w } = await launch({ module: "team/busybox", clouds: { machine: "dock" } });
      const end = await w.ended();
      const detail = (await server.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
      expect(end.body, JSON.stringify(detail.abort)).toMatchObject({ to: "Done" });
      expect(w.params().get("machine.1:greeting")).toMatch(/^hello from machine-1, BusyBox v1\./);
      expect(w.params().get("machine.1:statecustom")).toBe(w.params().get("machine.1:greeting"));
      expect(await runLeftovers(engine, run.id)).toEqual({ containers: [], networks: [] });
    }, 120_000);

    it("a run whose docker node's image names no container image is refused at creation, naming the node", async () => {
      const yaml = "kind: image\ndescription: no container image\ntargets:\n  execute: echo hi\n";
      const pushed = await server.api("POST", "/api/modules/import", { files: [{ path: "team/bare", yaml }] });
      expect(pushed.status, JSON.stringify(pushed.body)).toBeLessThan(300);
      const res = await server.api("POST", "/api/runs", { module: "team/bare", clouds: { machine: "dock" } });
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).toContain("clouds.machine");
      expect(JSON.stringify(res.body)).toContain("image 'team/bare' names no container image for cloud 'dock'");
      // the same module runs where no container image is needed
      const local = await launch({ module: "team/bare", clouds: { machine: "local" } });
      expect((await local.w.ended()).body).toMatchObject({ to: "Done" });
    }, 60_000);

    it("a node whose image names no container image fails to start with a clear error", async () => {
      const bare = createDockerConnector({
        name: "dock-bare",
        engine: { socketPath: engine.socketPath },
        bundleDir: path.join(server.dataDir, "agent"),
        imagesOf: () => ({ ec2: "ami-123" }),
      });
      await expect(
        bare.start({
          runId: "r-noimage",
          instance: "apache.1",
          node: "apache",
          cloud: "dock-bare",
          serviceUrl: server.url,
          token: "t",
        }),
      ).rejects.toThrow("the image of node 'apache' names no container image for cloud 'dock-bare'");
      expect(await runLeftovers(engine, "r-noimage")).toEqual({ containers: [], networks: [] });
      // an image the engine does not have: the start fails after the run's network was made, which goes with it
      const absent = createDockerConnector({
        name: "dock-absent",
        engine: { socketPath: engine.socketPath },
        bundleDir: path.join(server.dataDir, "agent"),
        imagesOf: () => ({ docker: "absent:1" }),
      });
      await expect(
        absent.start({
          runId: "r-absent",
          instance: "apache.1",
          node: "apache",
          cloud: "dock-absent",
          serviceUrl: server.url,
          token: "t",
        }),
      ).rejects.toThrow(/No such image: absent:1/);
      expect(await runLeftovers(engine, "r-absent")).toEqual({ containers: [], networks: [] });
      await absent.close();
    });

    it("boot reconcile: containers and networks of runs that are not live any more are removed by label", async () => {
      const launchOf = (runId: string) => ({
        runId,
        instance: "apache.1",
        node: "apache",
        cloud: "dock",
        // never reached: the agent retries in its container until it is removed
        serviceUrl: "http://127.0.0.1:9",
        token: "t",
      });
      const c = createDockerConnector({
        name: "dock",
        engine: { socketPath: engine.socketPath },
        bundleDir: path.join(server.dataDir, "agent"),
        imagesOf: () => ({ docker: "debian:12" }),
      });
      try {
        const orphan = await c.start(launchOf("r-orphan"));
        await c.start(launchOf("r-live"));
        // the container's address is behind the run's own bridge, never the host's other links
        const route = (await exec("ip", ["route", "get", orphan.hostname])).stdout;
        expect(route).toMatch(/\bdev br-[0-9a-f]{12}\b/);
        expect((await runLeftovers(engine, "r-orphan")).containers).toHaveLength(1);
        expect(await c.removeOrphans(new Set(["r-live"]))).toEqual({ containers: 1, networks: 1 });
        expect(await runLeftovers(engine, "r-orphan")).toEqual({ containers: [], networks: [] });
        expect((await runLeftovers(engine, "r-live")).containers).toHaveLength(1);
        await c.removeOrphans(new Set());
        expect(await runLeftovers(engine, "r-live")).toEqual({ containers: [], networks: [] });
      } finally {
        await c.close();
      }
    }, 60_000);
  },
);
