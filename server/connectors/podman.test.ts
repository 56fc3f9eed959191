import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { importApacheImage, runLeftovers, type TestEngine } from "../testing/docker-engine.js";
import { startTestServer, type TestServer } from "../testing/harness.js";
import { podmanUnavailable, startPodmanEngine } from "../testing/podman-engine.js";
import { fetchReports } from "../testing/reports.js";
import type { RunWatcher } from "../testing/watch.js";
import { watchedRun } from "../testing/watched-run.js";

const exec = promisify(execFile);
const TUTORIAL = "examples/tutorials/service-testing";
const WELCOME = "Welcome to SlipStream!";

const unavailable = await podmanUnavailable();
// CI installs podman and runs as root: there a missing piece is a failure, not a reason to skip
if (unavailable && process.env.CI === "true") throw new Error(`podman cloud tests cannot run in CI: ${unavailable}`);

/** The host's NAT rules as every tool that can add them sees them: none may appear for a run's internal network. */
async function natRules(): Promise<string> {
  const out: string[] = [];
  for (const [cmd, args] of [
    ["iptables", ["-t", "nat", "-S"]],
    ["ip6tables", ["-t", "nat", "-S"]],
    ["nft", ["list", "ruleset"]],
  ] as const) {
    const text = await exec(cmd, [...args]).then(
      (r) => r.stdout,
      (e: NodeJS.ErrnoException & { stderr?: string }) => (e.code === "ENOENT" ? `(${cmd} absent)` : `${e.stderr}`),
    );
    // nft shows every table: only what NATs counts (iptables' filter chains netavark adds are not NAT)
    out.push(
      cmd === "nft"
        ? text
            .split("\n")
            .filter((l) => /\bnat\b|masquerade|snat|dnat/i.test(l))
            .join("\n")
        : text,
    );
  }
  return out.join("\n---\n");
}

let engine: TestEngine;
let server: TestServer;
let natBefore: string;
const watchers: RunWatcher[] = [];

const launch = (body: Record<string, unknown>) => watchedRun(server, watchers, body);

describe.skipIf(unavailable !== null)(
  `the docker cloud on Podman's Docker-compatible socket${unavailable ? ` (skipped: ${unavailable})` : ""}`,
  () => {
    beforeAll(async () => {
      natBefore = await natRules();
      engine = await startPodmanEngine();
      // no registry is reachable: the tutorial's debian:12 is this host's Debian, with apache2
      await importApacheImage(engine, "debian:12");
      // the local cloud unsandboxed: its processes share the host's network, which reaches the runs' bridges
      server = await startTestServer({ killGraceSeconds: 2, local: { sandbox: false } });
    }, 120_000);

    afterAll(async () => {
      for (const w of watchers.splice(0)) w.close();
      await server?.close({ stopInstances: true });
      await engine?.stop();
    }, 60_000);

    it("an admin adds a cloud on the podman socket; the tutorial with 1 client ends Done with data.txt fetched, no NAT, no route out, nothing left", async () => {
      const created = await server.api<Record<string, unknown>>("POST", "/api/clouds", {
        name: "pod",
        kind: "docker",
        docker: { socketPath: engine.socketPath },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      // kept in Ready, so its containers can be looked into before it is terminated
      const { run, w } = await launch({
        module: `${TUTORIAL}/system`,
        keepRunning: "always",
        clouds: { apache: "pod", client: "pod" },
      });
      await w.state("Ready");
      const kept = (await server.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
      expect(kept.abort, w.logText()).toBeNull();
      // the run's network is internal: the containers have no default route, and no NAT rule was added for it
      const name = `ss-${run.id}-client-1`;
      const routes = await engine.docker(["exec", name, "/bin/sh", "-c", "cat /proc/net/route"]);
      const defaults = routes
        .split("\n")
        .slice(1)
        .filter((l) => l.split(/\s+/)[1] === "00000000");
      expect(defaults, routes).toEqual([]);
      expect(await natRules()).toBe(natBefore);
      // the host reaches the containers through the run's own bridge, which netavark names podman<N>
      const bridge = /\bdev (\S+)/.exec(
        (await exec("ip", ["route", "get", w.params().get("apache.1:hostname")!])).stdout,
      )?.[1];
      expect(bridge).toMatch(/^podman\d+$/);
      expect((await server.api("POST", `/api/runs/${run.id}/terminate`)).status).toBe(200);
      const end = await w.ended();
      const detail = (await server.api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
      expect(end.body, JSON.stringify(detail.abort)).toMatchObject({ to: "Done" });
      const p = w.params();
      expect(p.get("apache.1:hostname")).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(p.get("apache.1:port")).toBe("80");
      expect(p.get("client.1:statecustom")).toBe(`OK: ${WELCOME}`);
      const { dir, files } = await fetchReports(server, run.id);
      const report = Object.keys(files).find((n) => n.startsWith("client.1"))!;
      const data = files[report].find((f) => f.endsWith("data.txt"));
      expect(data, files[report].join(", ")).toBeDefined();
      expect(await fs.readFile(path.join(dir, report.replace(".tgz", ""), data!), "utf8")).toContain(WELCOME);
      expect(await runLeftovers(engine, run.id)).toEqual({ containers: [], networks: [] });
      // the bridge is a host interface: it went with the run's last container
      await expect(exec("ip", ["link", "show", bridge!])).rejects.toThrow(/does not exist/);
      expect(await natRules()).toBe(natBefore);
    }, 240_000);
  },
);
