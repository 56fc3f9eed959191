import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { ROOT } from "../root.js";
import { freePort } from "../testing/free-port.js";
import { signedInApi, startServerProcess } from "../testing/server-process.js";
import { RunWatcher } from "../testing/watch.js";
import { DRAIN_WITHIN_MS } from "./drain.js";
import { parseExposition, sampleValue } from "./metrics-text.js";

const PASSWORD = "drain-test-password";
/** where the local cloud claims a bridge per data directory when the server is root (sandbox/network.ts) */
const CLAIMS = "/run/slipstream/net";
const claims = () =>
  fs.existsSync(CLAIMS) ? fs.readdirSync(CLAIMS).map((f) => fs.readFileSync(path.join(CLAIMS, f), "utf8")) : [];
const METRICS_TOKEN = "drain-test-metrics-token";
let child: ChildProcess | null = null;
let watcher: RunWatcher | null = null;

afterEach(async () => {
  watcher?.close();
  child?.kill("SIGKILL");
});

/** The real server process (`npm start` without the UI), its JSON logs at info. */
const startProcess = (port: number, dataDir: string) =>
  startServerProcess(port, dataDir, {
    SLIPSTREAM_ADMIN_PASSWORD: PASSWORD,
    SLIPSTREAM_METRICS_TOKEN: METRICS_TOKEN,
    LOG_LEVEL: "info",
  });

describe("SIGTERM drain", () => {
  it("during a run: exits 0 within 10 s with the database closed; restarted on the same DATA_DIR and port, the run ends Done", async () => {
    const port = await freePort();
    const dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), "ss-drain-"));
    const url = `http://127.0.0.1:${port}`;
    const first = await startProcess(port, dataDir);
    child = first.p;
    expect((await fetch(`${url}/api/ready`)).status).toBe(200);
    // stdout is a pipe here: log lines are JSON, one object a line
    const jsonLine = first
      .output()
      .split("\n")
      .find((l) => l.startsWith("{"));
    expect(jsonLine, first.output()).toBeDefined();
    expect(JSON.parse(jsonLine!)).toHaveProperty("level");

    const login = await signedInApi(url, "admin", PASSWORD);
    const api = login.api;
    const imported = await api("POST", "/api/modules/import", {
      files: [
        {
          path: "d/gated",
          yaml:
            "kind: image\nparameters:\n  - { name: go, category: output }\n" +
            'targets:\n  execute: |\n    #!/bin/sh -xe\n    ss-get --timeout 0 go\n    ss-display "went"\n' +
            "  report: |\n    #!/bin/sh\n    echo ok > $SLIPSTREAM_REPORT_DIR/ok.txt\n",
        },
        { path: "d/system", yaml: "kind: deployment\nnodes:\n  server: { image: gated }\n" },
      ],
    });
    expect(imported.status, JSON.stringify(imported.body)).toBe(200);
    const run = (await api<RunDetail>("POST", "/api/runs", { module: "d/system", keepRunning: "never" })).body;
    watcher = new RunWatcher(url, login.token, run.id);
    await watcher.until((e) => e.body.type === "log" && e.body.data.includes("ss-get --timeout 0 go"));

    // the env token reads the metrics of the real process
    const metrics = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(metrics.status).toBe(200);
    expect(sampleValue(parseExposition(await metrics.text()), "slipstream_runs", { state: "Executing" })).toBe(1);

    // a request still in flight (its body never ends) must not hold the drain past its bound
    const stuck = net.connect(port, "127.0.0.1");
    await new Promise((resolve) => stuck.once("connect", resolve));
    stuck.on("error", () => {});
    const stuckClosed = new Promise((resolve) => stuck.once("close", resolve));
    stuck.write(
      `POST /api/modules/import HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${login.token}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"files":',
    );

    const t0 = Date.now();
    const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    const code = await exited;
    const took = Date.now() - t0;
    expect(code, first.output()).toBe(0);
    expect(took).toBeLessThan(DRAIN_WITHIN_MS);
    await stuckClosed;
    expect(first.output()).toContain("SIGTERM: draining");
    expect(first.output()).toMatch(/stopped in \d+ ms \(database closed\)/);
    // the last connection to a WAL database checkpoints and removes the log when it closes
    expect(fs.existsSync(path.join(dataDir, "slipstream.db-wal"))).toBe(false);

    const second = await startProcess(port, dataDir);
    child = second.p;
    expect((await fetch(`${url}/api/ready`)).status).toBe(200);
    const set = await api("PUT", `/api/runs/${run.id}/params/server.1:go`, { value: "now" });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    // the agent reconnected to the restarted server and got the value it was waiting for
    await watcher.until((e) => e.body.type === "state" && ["Done", "Aborted", "Cancelled"].includes(e.body.to));
    const detail = (await api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
    expect(detail.state, JSON.stringify(detail.abort)).toBe("Done");
    const servers = watcher.events.flatMap((e) => (e.body.type === "server" ? [e.body.status] : []));
    expect(servers).toEqual(["stopping", "started"]);
    expect(watcher.events.some((e) => e.body.type === "log" && e.body.data.includes("went"))).toBe(true);
    expect(watcher.events.map((e) => e.seq)).toEqual(watcher.events.map((_, i) => i + 1));
  });
});

describe("SIGTERM drain with nowhere to print", () => {
  it("once the pipe its output went to is closed: it still serves, and a SIGTERM still drains, exits 0 and gives its network back", async () => {
    const port = await freePort();
    const dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), "ss-drain-"));
    const url = `http://127.0.0.1:${port}`;
    const started = await startProcess(port, dataDir);
    child = started.p;
    // what a server started by a parent since gone sees (a bench killed, `npm start | tee` with tee gone): every
    // line it prints from now on meets a pipe with no reader
    child.stdout!.destroy();
    child.stderr!.destroy();
    const login = await signedInApi(url, "admin", PASSWORD);
    // a change of limits is logged (info): a log line into the closed pipe, then the server still answers
    const limits = await login.api("PUT", "/api/settings/limits", { paramsPerRun: 123_456 });
    expect(limits.status, JSON.stringify(limits.body)).toBe(200);
    expect((await login.api("GET", "/api/runs")).status).toBe(200);
    expect((await fetch(`${url}/api/ready`)).status).toBe(200);

    const exited = new Promise<number | null>((resolve) => child!.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    // its bridge's claim (one per data directory, network.ts) is gone with it
    expect(claims().filter((c) => c.includes(dataDir))).toEqual([]);
  });
});

describe("Ctrl-C at the terminal", () => {
  it("SIGINT to the server's whole process group, as a terminal sends it: it drains, exits 0 and gives its network back", async () => {
    const port = await freePort();
    const dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), "ss-drain-"));
    // a group of its own, as a terminal's foreground job: the signal below reaches it and every child it started
    const started = await startServerProcess(port, dataDir, { LOG_LEVEL: "warn" }, { ownGroup: true });
    const p = started.p;
    child = p;
    expect((await fetch(`http://127.0.0.1:${port}/api/ready`)).status).toBe(200);
    const ours = () => claims().filter((c) => c.includes(dataDir));
    // where the server is root it holds a bridge for its instances (network.ts): the drain must give it back
    if (process.getuid?.() === 0) expect(ours()).toHaveLength(1);
    const exited = new Promise<number | null>((resolve) => p.once("exit", (code) => resolve(code)));
    process.kill(-p.pid!, "SIGINT");
    expect(await exited, started.output()).toBe(0);
    expect(started.output()).toMatch(/stopped in \d+ ms \(database closed\)/);
    expect(ours()).toEqual([]);
  });
});

describe("operations settings", () => {
  const refused = (env: Record<string, string>) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, ["--import", "tsx", "server/main.ts", "--no-ui"], {
        cwd: ROOT,
        env: { ...process.env, DATA_DIR: path.join(os.tmpdir(), "ss-never-created"), ...env },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      p.stderr!.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      p.once("exit", (code) => resolve({ code, stderr }));
    });

  it("a short metrics token and an unknown log format are refused at start, naming the variable", async () => {
    const short = await refused({ SLIPSTREAM_METRICS_TOKEN: "short" });
    expect(short.code).toBe(2);
    expect(short.stderr).toContain("SLIPSTREAM_METRICS_TOKEN");
    expect(short.stderr).toContain("16");
    const format = await refused({ LOG_FORMAT: "xml" });
    expect(format.code).toBe(2);
    expect(format.stderr).toContain("LOG_FORMAT");
  });
});
