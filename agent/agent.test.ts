import { type ChildProcess, execFile, spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Server, type Socket } from "socket.io";
import { extract } from "tar";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Ack } from "../protocol/ack.js";
import {
  AbortRequest,
  type AgentAssignment,
  type AgentClientToServer,
  type AgentRunState,
  type AgentServerToClient,
  CompleteRequest,
  LogAppendRequest,
  ParamCancelRequest,
  ParamGetRequest,
  ParamSetRequest,
} from "../protocol/agent-socket.js";
import type { ErrorCode } from "../protocol/errors.js";
import type { RunState } from "../protocol/run.js";
import { PROTOCOL_VERSION } from "../protocol/version.js";
import { buildAgentBundle } from "../scripts/build-agent.js";

const TOKEN = "agent-token-0123456789";
const RUN = "run-1";

type Waiter = {
  key: string;
  requestId?: string;
  ignoreAbort: boolean;
  ack: (a: Ack<{ value: string }>) => void;
  timer?: NodeJS.Timeout;
};

/**
 * A minimal server side of the `/agent` protocol: hello, run:state pushes, acks, a parameter map
 * with waiters, and the report upload. Its state outlives `restart()`, like a database.
 */
class Peer {
  readonly changes = new EventEmitter();
  params = new Map<string, string>();
  gets: string[] = [];
  /** the request id of each param:get, in the order of `gets` */
  getIds: (string | undefined)[] = [];
  /** the request ids named by param:cancel */
  cancels: string[] = [];
  logs = new Map<number, { target: string; stream: string; data: string }>();
  completes: RunState[] = [];
  agentAborts: string[] = [];
  reports: { name: string; auth: string | undefined; type: string | undefined; body: Buffer }[] = [];
  run: AgentRunState;
  port = 0;
  private io!: Server<AgentClientToServer, AgentServerToClient>;
  private http!: HttpServer;
  private waiters = new Set<Waiter>();

  constructor(
    instance: string,
    readonly assignment: AgentAssignment,
  ) {
    this.run = {
      seq: 1,
      runId: RUN,
      instance,
      state: "Provisioning",
      abort: null,
      recoveryMode: false,
      completed: false,
      live: true,
      scaling: null,
    };
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.http = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      if (req.method !== "POST" || url.pathname !== "/api/agent/reports") {
        res.writeHead(404).end();
        return;
      }
      const parts: Buffer[] = [];
      req.on("data", (c: Buffer) => parts.push(c));
      req.on("end", () => {
        this.reports.push({
          name: url.searchParams.get("name") ?? "",
          auth: req.headers.authorization,
          type: req.headers["content-type"],
          body: Buffer.concat(parts),
        });
        res.writeHead(201, { "content-type": "application/json" }).end("{}");
        this.changed();
      });
    });
    this.io = new Server(this.http);
    const nsp = this.io.of("/agent");
    nsp.use((socket, next) => {
      const auth = socket.handshake.auth as { token?: string; protocolVersion?: number };
      if (auth.token !== TOKEN) return next(new Error("UNAUTHORIZED: bad token"));
      if (auth.protocolVersion !== PROTOCOL_VERSION) return next(new Error("CONFLICT: protocol version"));
      next();
    });
    nsp.on("connection", (socket) => this.serve(socket));
    await new Promise<void>((resolve) => this.http.listen(this.port, "127.0.0.1", resolve));
    this.port = (this.http.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const w of this.waiters) clearTimeout(w.timer);
    this.waiters.clear();
    this.io.disconnectSockets(true);
    await new Promise<void>((resolve) => this.io.close(() => resolve()));
    this.http.closeAllConnections();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  push(patch: Partial<AgentRunState>): void {
    this.run = { ...this.run, ...patch, seq: this.run.seq + 1 };
    this.io.of("/agent").emit("run:state", this.run);
    this.changed();
  }

  enter(state: RunState): void {
    this.push({ state, completed: false });
  }

  set(key: string, value: string): void {
    this.params.set(key, value);
    for (const w of [...this.waiters]) {
      if (w.key !== key) continue;
      this.waiters.delete(w);
      clearTimeout(w.timer);
      w.ack({ ok: true, data: { value } });
    }
    this.changed();
  }

  abort(message: string): void {
    if (this.run.abort === null) this.run = { ...this.run, abort: message };
    for (const w of [...this.waiters]) {
      if (w.ignoreAbort) continue;
      this.waiters.delete(w);
      clearTimeout(w.timer);
      w.ack({ ok: false, error: { code: "ABORTED", message: `run aborted: ${message}` } });
    }
    this.push({});
  }

  /** Resolves with `check()`'s first defined value, re-checked on every change of the peer. */
  until<T>(check: () => T | undefined | false, what: string, ms = 20_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const test = () => {
        const v = check();
        if (v === undefined || v === false) return;
        cleanup();
        resolve(v as T);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${what}`));
      }, ms);
      const cleanup = () => {
        clearTimeout(timer);
        this.changes.off("change", test);
      };
      this.changes.on("change", test);
      test();
    });
  }

  completed(state: RunState): Promise<true> {
    return this.until(() => this.completes.includes(state), `state:complete ${state}`);
  }

  logText(stream?: string): string {
    return [...this.logs.entries()]
      .sort(([a], [b]) => a - b)
      .filter(([, l]) => !stream || l.stream === stream)
      .map(([, l]) => l.data)
      .join("");
  }

  private changed(): void {
    this.changes.emit("change");
  }

  private fail<T>(ack: (a: Ack<T>) => void, code: ErrorCode, message: string): void {
    ack({ ok: false, error: { code, message } });
  }

  private serve(socket: Socket<AgentClientToServer, AgentServerToClient>): void {
    socket.on("param:get", (raw, ack) => {
      const req = ParamGetRequest.parse(raw);
      this.gets.push(req.key);
      this.getIds.push(req.requestId);
      this.changed();
      if (this.run.abort !== null && !req.ignoreAbort)
        return this.fail(ack, "ABORTED", `run aborted: ${this.run.abort}`);
      const value = this.params.get(req.key);
      if (value !== undefined) return ack({ ok: true, data: { value } });
      if (req.noblock) return this.fail(ack, "NOT_SET", `${req.key} is not set`);
      const waiter: Waiter = { key: req.key, requestId: req.requestId, ignoreAbort: req.ignoreAbort, ack };
      if (req.timeout > 0) {
        waiter.timer = setTimeout(() => {
          this.waiters.delete(waiter);
          this.fail(ack, "TIMEOUT", `timed out waiting for ${req.key}`);
        }, req.timeout * 1000);
      }
      this.waiters.add(waiter);
    });
    socket.on("param:cancel", (raw, ack) => {
      const req = ParamCancelRequest.parse(raw);
      this.cancels.push(req.wait);
      let cancelled = 0;
      for (const w of [...this.waiters]) {
        if (w.requestId !== req.wait) continue;
        this.waiters.delete(w);
        clearTimeout(w.timer);
        cancelled++;
      }
      ack({ ok: true, data: { cancelled } });
      this.changed();
    });
    socket.on("param:set", (raw, ack) => {
      const req = ParamSetRequest.parse(raw);
      if (this.run.abort !== null && !req.ignoreAbort)
        return this.fail(ack, "ABORTED", `run aborted: ${this.run.abort}`);
      this.set(req.key, req.value);
      ack({ ok: true, data: { seq: this.run.seq } });
    });
    socket.on("run:abort", (raw, ack) => {
      const req = AbortRequest.parse(raw);
      if (req.cancel) this.push({ abort: null });
      else {
        this.agentAborts.push(req.message);
        this.abort(req.message);
      }
      ack({ ok: true, data: { abort: this.run.abort } });
    });
    socket.on("state:complete", (raw, ack) => {
      const req = CompleteRequest.parse(raw);
      if (req.state !== this.run.state) return this.fail(ack, "CONFLICT", `run is ${this.run.state}`);
      this.completes.push(req.state);
      ack({ ok: true, data: { state: req.state } });
      this.changed();
    });
    socket.on("log:append", (raw, ack) => {
      const req = LogAppendRequest.parse(raw);
      if (!this.logs.has(req.chunk)) this.logs.set(req.chunk, req);
      ack({ ok: true, data: { seq: null } });
      this.changed();
    });
    socket.emit("agent:hello", { run: this.run, assignment: this.assignment });
  }
}

let bundle: { agent: string; ssClient: string };
let bundleDir: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  bundleDir = await mkdtemp(path.join(os.tmpdir(), "ss-bundle-"));
  bundle = await buildAgentBundle(bundleDir);
});
afterAll(() => rm(bundleDir, { recursive: true, force: true }));
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Started {
  peer: Peer;
  child: ChildProcess;
  ws: string;
  exited: Promise<number | null>;
  output: () => string;
}

async function startAgent(
  targets: AgentAssignment["targets"],
  opts: { env?: Record<string, string>; instance?: string } = {},
): Promise<Started> {
  const instance = opts.instance ?? "client.1";
  const [node, index] = instance.split(".");
  const peer = new Peer(instance, { node, index: Number(index), targets, cloud: "local" });
  await peer.start();
  const root = await mkdtemp(path.join(os.tmpdir(), "ss-agent-"));
  const ws = path.join(root, instance);
  const child = spawn(process.execPath, [bundle.agent], {
    env: {
      ...process.env,
      SLIPSTREAM_SERVICEURL: peer.url,
      SLIPSTREAM_AGENT_TOKEN: TOKEN,
      SLIPSTREAM_DIID: RUN,
      SLIPSTREAM_NODE_INSTANCE_NAME: instance,
      SLIPSTREAM_CLOUD: "local",
      SLIPSTREAM_WORKSPACE: ws,
      ...opts.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await peer.stop();
    await rm(root, { recursive: true, force: true });
  });
  return { peer, child, ws, exited, output: () => out };
}

/** Drives Provisioning and enters Executing. */
async function toExecuting(peer: Peer): Promise<void> {
  await peer.completed("Provisioning");
  peer.enter("Executing");
}

const sh = promisify(execFile);

/** True once no process of the group is left (init may take a moment to reap the killed orphans). */
async function groupGone(pgid: number, ms = 3000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return true;
    }
  }
  return false;
}

describe("node agent against a real /agent peer", () => {
  it("runs a full cycle: provisioning, execute with ss-set/ss-get, report upload, ready, finalizing", async () => {
    const { peer, ws, exited, output } = await startAgent({
      execute: [
        "#!/bin/sh -xe",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax, as in the tutorial's client
        'echo "hello from $SLIPSTREAM_NODE_INSTANCE_NAME" > "${TMPDIR:-/tmp}/data.txt"',
        "ss-set ready true",
        "port=$(ss-get --timeout 30 apache:port)",
        'echo "port=$port" >> "$TMPDIR/data.txt"',
        'ss-display "downloaded from port $port"',
      ].join("\n"),
      report: '#!/bin/sh -x\ncp "$TMPDIR/data.txt" "$SLIPSTREAM_REPORT_DIR"',
    });
    await toExecuting(peer);
    await peer.until(() => peer.params.get("client.1:ready") === "true", "ss-set ready");
    await peer.until(() => peer.gets.includes("apache.1:port"), "ss-get apache:port");
    expect(peer.completes).not.toContain("Executing");
    peer.set("apache.1:port", "8080");
    await peer.completed("Executing");
    expect(await readFile(path.join(ws, "tmp/data.txt"), "utf8")).toBe("hello from client.1\nport=8080\n");
    expect(peer.params.get("client.1:statecustom")).toBe("downloaded from port 8080");
    expect(peer.logText("agent")).toContain("Running target execute");
    expect(peer.logText("stderr")).toContain("+ ss-set ready true");

    peer.enter("SendingReports");
    await peer.completed("SendingReports");
    expect(peer.reports).toHaveLength(1);
    const report = peer.reports[0];
    expect(report.name).toMatch(/^client\.1_report_\d{8}T\d{6}Z\.tgz$/);
    expect(report.auth).toBe(`Bearer ${TOKEN}`);
    expect(report.type).toBe("application/gzip");
    const unpacked = await mkdtemp(path.join(os.tmpdir(), "ss-report-"));
    cleanups.push(() => rm(unpacked, { recursive: true, force: true }));
    const tgz = path.join(unpacked, report.name);
    await writeFile(tgz, report.body);
    await extract({ file: tgz, cwd: unpacked });
    expect(await readFile(path.join(unpacked, "data.txt"), "utf8")).toContain("port=8080");
    expect(await readFile(path.join(unpacked, "slipstream.log"), "utf8")).toContain("Running target report");

    peer.enter("Ready");
    await peer.completed("Ready");
    // a kept run: a person who logs in sources slipstream.setenv and uses the same commands
    const byHand = await sh("sh", ["-c", `. ${ws}/slipstream.setenv && ss-get apache:port && ss-set note by-hand`], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: os.tmpdir() } as unknown as NodeJS.ProcessEnv,
    });
    expect(byHand.stdout).toBe("8080\n");
    await peer.until(() => peer.params.get("client.1:note") === "by-hand", "ss-set by hand");

    peer.enter("Finalizing");
    expect(await exited).toBe(0);
    expect(output()).toContain("Run is Finalizing");
  });

  it("abort unblocks ss-get --timeout 0 with exit 8 and terminates the script", async () => {
    const { peer, ws } = await startAgent({
      execute: [
        "#!/bin/sh",
        "ss-get --timeout 0 never.set",
        'echo "rc=$?" > "$TMPDIR/rc"',
        "sleep 30",
        'echo after > "$TMPDIR/after"',
      ].join("\n"),
      report: 'echo "collected despite abort" > "$SLIPSTREAM_REPORT_DIR/note.txt"',
    });
    await toExecuting(peer);
    await peer.until(() => peer.gets.includes("client.1:never.set"), "blocked ss-get");
    const t0 = Date.now();
    peer.abort("apache failed");
    await peer.completed("Executing");
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await readFile(path.join(ws, "tmp/rc"), "utf8")).toBe("rc=8\n");
    expect(existsSync(path.join(ws, "tmp/after"))).toBe(false);
    expect(peer.agentAborts).toEqual([]);
    expect(peer.logText("stderr")).toContain("ss-get: run aborted: apache failed");
    // the run still drains through SendingReports: the report target ignores abort
    peer.enter("SendingReports");
    await peer.completed("SendingReports");
    expect(peer.reports).toHaveLength(1);
  });

  it("SIGKILLs a script that ignores SIGTERM after the grace period", async () => {
    const { peer, ws } = await startAgent(
      {
        execute: [
          "#!/bin/sh",
          "trap '' TERM",
          'echo $$ > "$TMPDIR/pid"',
          "ss-set started 1",
          "sleep 60",
          "sleep 60",
        ].join("\n"),
      },
      { env: { SLIPSTREAM_KILL_GRACE: "1" } },
    );
    await toExecuting(peer);
    await peer.until(() => peer.params.has("client.1:started"), "script started");
    const pid = Number(await readFile(path.join(ws, "tmp/pid"), "utf8"));
    const t0 = Date.now();
    peer.abort("stop it");
    await peer.completed("Executing");
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(1000);
    expect(took).toBeLessThan(6000);
    expect(await groupGone(pid)).toBe(true);
    await peer.until(() => peer.logText("agent").includes("still alive after 1 s: SIGKILL"), "the SIGKILL log line");
  });

  it("a failing execute aborts the run with the exact message, skipping later targets", async () => {
    const { peer, ws } = await startAgent({
      execute: '#!/bin/sh -e\necho working\necho "disk is full" >&2\necho "  " >&2\nexit 3',
      onvmadd: "touch should-not-run",
    });
    await toExecuting(peer);
    await peer.completed("Executing");
    expect(peer.agentAborts).toEqual(["Failed running 'execute' on 'client.1': disk is full"]);
    expect(peer.run.abort).toBe("Failed running 'execute' on 'client.1': disk is full");
    expect(existsSync(path.join(ws, "should-not-run"))).toBe(false);
  });

  it("pre-install failure stops before execute, and packages with it", async () => {
    const { peer, ws } = await startAgent({
      "pre-install": "false",
      packages: ["apache2", "wget"],
      execute: "touch executed",
    });
    await toExecuting(peer);
    await peer.completed("Executing");
    expect(peer.agentAborts).toEqual(["Failed running 'pre-install' on 'client.1': exit code 1"]);
    expect(existsSync(path.join(ws, "executed"))).toBe(false);
    expect(peer.logText("agent")).not.toContain("packages skipped");
  });

  it("packages a machine cannot install fail the run, naming them and why, before execute", async () => {
    const { peer, ws } = await startAgent({
      packages: ["bash", "slipstream-no-such-package"],
      execute: "touch executed",
    });
    await toExecuting(peer);
    await peer.completed("Executing");
    expect(peer.agentAborts).toEqual([
      "Failed running 'packages' on 'client.1': cannot install slipstream-no-such-package: the local cloud's machines share the server's read-only system: install them on the server's machine, or run this node on another cloud",
    ]);
    expect(existsSync(path.join(ws, "executed"))).toBe(false);
  });

  it("ss-get --noblock on an unset key exits 1, --timeout 1 exits 9, --default replaces both", async () => {
    const { peer, ws } = await startAgent({
      "pre-install": "#!/bin/sh\necho pre > pre.txt",
      // on every Debian: nothing to install, so the local cloud (which cannot install) carries on
      packages: ["bash", "coreutils"],
      execute: [
        "#!/bin/sh",
        'out="$TMPDIR/codes"',
        'v=$(ss-get --noblock unset.key); echo "noblock=$? [$v]" > "$out"',
        'ss-get --timeout 1 unset.key; echo "timeout=$?" >> "$out"',
        'echo "default=$(ss-get --noblock --default fallback unset.key)" >> "$out"',
        'ss-get no such key 2>/dev/null; echo "usage=$?" >> "$out"',
      ].join("\n"),
    });
    await toExecuting(peer);
    await peer.completed("Executing");
    expect(await readFile(path.join(ws, "tmp/codes"), "utf8")).toBe(
      "noblock=1 []\ntimeout=9\ndefault=fallback\nusage=2\n",
    );
    expect(existsSync(path.join(ws, "pre.txt"))).toBe(true);
    expect(peer.logText("agent")).toContain("Packages already installed: bash coreutils");
    expect(peer.agentAborts).toEqual([]);
  });

  it("survives a server restart: reconnects, re-sends the pending ss-get and gets the answer", async () => {
    const { peer, ws } = await startAgent({
      execute: '#!/bin/sh -e\nv=$(ss-get --timeout 0 later)\necho "$v" > "$TMPDIR/later"\nss-set seen "$v"',
    });
    await toExecuting(peer);
    await peer.until(() => peer.gets.includes("client.1:later"), "first ss-get");
    await peer.restart();
    await peer.until(() => peer.gets.filter((k) => k === "client.1:later").length >= 2, "re-sent ss-get");
    peer.set("client.1:later", "after restart");
    await peer.completed("Executing");
    expect(await readFile(path.join(ws, "tmp/later"), "utf8")).toBe("after restart\n");
    expect(peer.params.get("client.1:seen")).toBe("after restart");
  });

  it("re-sends a pending ss-get after a restart with the request id of the first send", async () => {
    const { peer } = await startAgent({ execute: "#!/bin/sh -e\nss-get --timeout 0 later" });
    await toExecuting(peer);
    await peer.until(() => peer.gets.includes("client.1:later"), "first ss-get");
    await peer.restart();
    await peer.until(() => peer.gets.filter((k) => k === "client.1:later").length >= 2, "re-sent ss-get");
    const ids = peer.getIds.filter((_, i) => peer.gets[i] === "client.1:later");
    expect(ids[0]).toMatch(/^[\w-]+-\d+$/);
    expect(ids[1]).toBe(ids[0]);
    peer.set("client.1:later", "v");
    await peer.completed("Executing");
  });

  it("an ss-get killed while blocked has the server drop its wait (param:cancel with its request id)", async () => {
    const { peer, ws } = await startAgent({
      execute: [
        "#!/bin/sh",
        'ss-get --timeout 0 never.set > /dev/null 2>&1 & echo $! > "$TMPDIR/getpid"',
        "wait",
        "ss-set after.kill 1",
      ].join("\n"),
    });
    await toExecuting(peer);
    await peer.until(() => peer.gets.includes("client.1:never.set"), "blocked ss-get");
    const id = peer.getIds[peer.gets.indexOf("client.1:never.set")];
    expect(id).toBeDefined();
    process.kill(Number(await readFile(path.join(ws, "tmp/getpid"), "utf8")), "SIGTERM");
    await peer.until(() => peer.cancels.includes(id as string), "param:cancel of the killed ss-get");
    await peer.until(() => peer.params.get("client.1:after.kill") === "1", "the script goes on");
    await peer.completed("Executing");
    expect(peer.cancels).toEqual([id]);
  });

  it("an existing instance runs only onvmadd during a scale cycle, with the scaling variables", async () => {
    const { peer, ws } = await startAgent({
      execute: "touch executed",
      onvmadd: '#!/bin/sh\necho "$SLIPSTREAM_SCALING_ACTION $SLIPSTREAM_SCALING_NODE $SLIPSTREAM_SCALING_VMS" > scaled',
    });
    await toExecuting(peer);
    await peer.completed("Executing");
    peer.enter("Ready");
    await peer.completed("Ready");
    peer.completes = [];
    peer.push({
      state: "Provisioning",
      completed: false,
      scaling: { action: "vm_add", node: "client", instances: ["client.2", "client.3"] },
    });
    await peer.completed("Provisioning");
    await rm(path.join(ws, "executed"));
    peer.enter("Executing");
    await peer.completed("Executing");
    expect(await readFile(path.join(ws, "scaled"), "utf8")).toBe("vm_create client client.2 client.3\n");
    expect(existsSync(path.join(ws, "executed"))).toBe(false);
  });

  it("the ss-* wrappers answer over the fast path without Node, exactly as the Node client does", async () => {
    const { peer, ws } = await startAgent({});
    await peer.completed("Provisioning");
    const tricky = "two\nlines \\n back\\slash %s\ttab  \n\n";
    peer.set("apache.1:text", tricky);
    const setenv = await readFile(path.join(ws, "slipstream.setenv"), "utf8");
    const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: os.tmpdir() };
    for (const m of setenv.matchAll(/^export (\w+)='(.*)'$/gm)) env[m[1]] = m[2];
    const run = (file: string, args: string[], e: Record<string, string | undefined>) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(file, args, { env: e as NodeJS.ProcessEnv });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => {
          stdout += d;
        });
        child.stderr.on("data", (d) => {
          stderr += d;
        });
        child.on("exit", (code) => resolve({ code, stdout, stderr }));
      });
    const cases: [string, string[]][] = [
      ["ss-get", ["apache:text"]],
      ["ss-get", ["--noblock", "unset.key"]],
      ["ss-get", ["--timeout", "0.2", "--default", "d e f", "unset.key"]],
      ["ss-get", ["--bogus", "x"]],
      ["ss-get", ["--help"]],
      ["ss-set", ["note", "-5 and\nmore"]],
      ["ss-get", ["note"]],
      ["ss-display", ["working", "hard"]],
      ["ss-random", ["-s", "0"]],
    ];
    // without the unix socket the Node client cannot work: a success proves the fast path answered
    const fastEnv = { ...env, SLIPSTREAM_AGENT_SOCKET: undefined };
    const nodeEnv = { ...env, SLIPSTREAM_AGENT_ENDPOINT: undefined };
    for (const [command, args] of cases) {
      const fast = await run(path.join(ws, "bin", command), args, fastEnv);
      const viaNode = await run(process.execPath, [path.join(ws, "lib/ss.mjs"), command, ...args], nodeEnv);
      expect(fast, `${command} ${args.join(" ")}`).toEqual(viaNode);
    }
    expect((await run(path.join(ws, "bin/ss-get"), ["apache:text"], fastEnv)).stdout).toBe(`${tricky}\n`);
    expect(peer.params.get("client.1:note")).toBe("-5 and\nmore");
    expect(peer.params.get("client.1:statecustom")).toBe("working hard");
    // no endpoint: the wrapper execs the Node client, which uses the unix socket
    expect(await run(path.join(ws, "bin/ss-get"), ["note"], nodeEnv)).toEqual({
      code: 0,
      stdout: "-5 and\nmore\n",
      stderr: "",
    });
    // an endpoint nobody listens on (an agent gone): the Node client answers, in POSIX mode too
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port: free } = probe.address() as AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    const stale = path.join(ws, "stale.endpoint");
    await writeFile(stale, `${closed} ${"0".repeat(48)}\n`);
    expect(
      await run(path.join(ws, "bin/ss-get"), ["note"], {
        ...env,
        SLIPSTREAM_AGENT_ENDPOINT: stale,
        POSIXLY_CORRECT: "1",
      }),
    ).toEqual({ code: 0, stdout: "-5 and\nmore\n", stderr: "" });
    // an endpoint file with another key (another user's guess) is refused
    const [port] = (await readFile(path.join(ws, "lib/ss.endpoint"), "utf8")).split(" ");
    const forged = path.join(ws, "forged.endpoint");
    await writeFile(forged, `${port} ${"0".repeat(48)}\n`);
    const refused = await run(path.join(ws, "bin/ss-get"), ["note"], { ...fastEnv, SLIPSTREAM_AGENT_ENDPOINT: forged });
    expect(refused.code).toBe(6);
    expect(refused.stderr).toContain("not this agent's key");
  });

  it("exits with an error when the server refuses its token", async () => {
    const { exited, output } = await startAgent({}, { env: { SLIPSTREAM_AGENT_TOKEN: "wrong-token-0123456789" } });
    expect(await exited).toBe(1);
    expect(output()).toContain("server refused this agent: UNAUTHORIZED");
  });

  it("an instance removed by scaling sends its report and exits", async () => {
    const { peer, exited } = await startAgent({ report: "echo bye > $SLIPSTREAM_REPORT_DIR/bye.txt" });
    await toExecuting(peer);
    await peer.completed("Executing");
    peer.push({ live: false });
    expect(await exited).toBe(0);
    expect(peer.reports.map((r) => r.name)).toEqual([expect.stringMatching(/^client\.1_report_/)]);
  });
});
