/** Benchmarks 2, 5 and 6: against the server as a child process (`server/main.ts`) running real local agents. */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CHROMIUM, CHROMIUM_ARGS } from "../e2e/chromium.js";
import type { RunDetail } from "../protocol/run.js";
import { callJson } from "../server/testing/json-api.js";
import { RunWatcher } from "../server/testing/watch.js";
import { LIGHT_ORDERS, timeInMachine } from "./in-machine.js";
import { hostPids, type InstanceMemory } from "./instance-memory.js";
import {
  freePort,
  nowMs,
  procStatusMb,
  type RedisServer,
  Resp,
  type Stats,
  settle,
  stats,
  timeProcess,
} from "./lib.js";
import { memoryRun } from "./memory-run.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const PASSWORD = "bench-admin-password";

export interface LocalBenchOptions {
  quick: boolean;
  log: (line: string) => void;
}

export interface ChildServer {
  url: string;
  pid: number;
  token: string;
  api<T = unknown>(method: string, url: string, body?: unknown): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

export async function startChildServer(dataDir: string, ui: boolean, nodeArgs: string[] = []): Promise<ChildServer> {
  const port = await freePort();
  const proc: ChildProcess = spawn(
    process.execPath,
    [...nodeArgs, "--import", "tsx", "server/main.ts", ...(ui ? [] : ["--no-ui"])],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(port),
        HOST: "127.0.0.1",
        DATA_DIR: dataDir,
        SLIPSTREAM_ADMIN_PASSWORD: PASSWORD,
        LOG_LEVEL: "warn",
        NODE_ENV: "production",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  // a bench that exits without stop() (process.exit, an uncaught error) takes its server along, as its Redis
  // (lib.ts): three profiling runs that failed once left theirs running, a quarter of a core under what came next
  const orphaned = () => proc.kill("SIGTERM");
  process.once("exit", orphaned);
  proc.once("exit", () => process.off("exit", orphaned));
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes("SlipStream is serving on")) resolve();
    };
    proc.stdout!.on("data", onData);
    proc.stderr!.on("data", (d: Buffer) => {
      output += d.toString();
    });
    proc.once("exit", (code) => reject(new Error(`server exited ${code}: ${output}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  const login = await fetch(`${url}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "admin", password: PASSWORD }),
  });
  const { token } = (await login.json()) as { token: string };
  return {
    url,
    pid: proc.pid!,
    token,
    api: <T>(method: string, p: string, body?: unknown) => callJson<T>(url, method, p, body, token),
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once("exit", () => resolve());
        proc.kill("SIGTERM");
      }),
  };
}

/** with the ~10 built-in parameters of each instance, 200 clients make about 5,000 parameters */
const PAGE_PARAMS = 15;

export async function pushModules(s: ChildServer): Promise<void> {
  const params = Array.from({ length: PAGE_PARAMS }, (_, i) => `  - { name: p${i}, category: output }`).join("\n");
  const trivial = "targets:\n  execute: |\n    #!/bin/sh\n    true\n";
  const res = await s.api("POST", "/api/modules/import", {
    files: [
      { path: "bench/srv", yaml: `kind: image\nparameters:\n  - { name: k, category: output }\n${trivial}` },
      { path: "bench/cli", yaml: `kind: image\nparameters:\n${params}\n${trivial}` },
      {
        path: "bench/scale",
        yaml: "kind: deployment\nnodes:\n  server: { image: srv }\n  client: { image: cli }\n",
      },
      { path: "bench/cmd", yaml: "kind: deployment\nnodes:\n  c: { image: srv }\n" },
    ],
  });
  if (res.status !== 200) throw new Error(`module import failed: ${JSON.stringify(res.body)}`);
}

/** The environment a person gets from `source slipstream.setenv` (PATH aside: the wrappers run by path). */
function readSetenv(file: string): NodeJS.ProcessEnv {
  const env: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: process.env.HOME };
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const m = /^export (\w+)='(.*)'$/.exec(line);
    if (m && m[1] !== "PATH") env[m[1]] = m[2].replace(/'\\''/g, "'");
  }
  return env as NodeJS.ProcessEnv;
}

/** pids of the local agents of this data directory (sandboxed or not: by the instance tag in their environment). */
function agentPids(dataDir: string): number[] {
  const tag = Buffer.from(`SLIPSTREAM_LOCAL_INSTANCE=${path.join(dataDir, "instances")}/`);
  const pids: number[] = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
      if (!cmd[0]?.endsWith("node") || !cmd[1]?.endsWith("/agent.mjs")) continue;
      if (fs.readFileSync(`/proc/${d}/environ`).includes(tag)) pids.push(Number(d));
    } catch {}
  }
  // one agent host per run (SLIPSTREAM_LOCAL_AGENTS=per-run) serves the agents of all the run's instances
  return [...pids, ...hostPids(dataDir)];
}

/** One request line over the agent's unix socket, answered: the IPC + agent + server part of a command. */
function ipcRoundTrip(socketPath: string, request: object): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = nowMs();
    const socket = net.createConnection(socketPath);
    socket.on("connect", () => socket.write(`${JSON.stringify({ id: 1, ...request })}\n`));
    socket.on("data", (d) => {
      if (d.includes("\n")) {
        socket.destroy();
        resolve(nowMs() - t0);
      }
    });
    socket.on("error", reject);
  });
}

export interface CommandResult {
  /** where every command and reference was timed: in a sandboxed instance's machine, or on the host */
  where: "machine" | "host";
  ssSet: Stats;
  ssGet: Stats;
  redisCli: Stats;
  nodeStart: Stats;
  /** node + loading ss.mjs, no agent contact (`ss-get --help` run directly) */
  ssLoadOnly: Stats;
  /** the unix-socket request alone, from a running process */
  ipcOnly: Stats;
  agentRssMb: Stats;
  /** the Node client the wrappers fall back to where there is no bash: `node ss.mjs ss-set|ss-get …` */
  viaNode: { set: Stats; get: Stats };
}

export interface ScaleResult {
  instances: number;
  readyS: number;
  doneS: number;
  serverHwmMb: number | null;
}

export interface PageResult {
  skipped: string | null;
  instances: number;
  params: number;
  /** goto → what the first screen shows: the run's state, every instance's tile, the parameter panel's first rows */
  loadMs: Stats | null;
  /** goto → the last of the parameter rows mounted (they are mounted a chunk per task, below the first screen) */
  allRowsMs: Stats | null;
  jsKb: number | null;
  /** the page of a live run of the same size while parameter changes stream in */
  live: LiveResult | null;
}

export interface LiveResult {
  updates: number;
  seconds: number;
  /** main-thread tasks over 50 ms (Long Tasks API) while the updates streamed in */
  longTasks: number;
  longestTaskMs: number;
  /** gaps between animation frames */
  frameGapMs: Stats;
  /** from the last write's answer until its value is in the DOM */
  lastShownMs: number;
}

async function commandCost(
  s: ChildServer,
  dataDir: string,
  redis: RedisServer,
  opts: LocalBenchOptions,
): Promise<CommandResult> {
  const created = await s.api<RunDetail>("POST", "/api/runs", { module: "bench/cmd", keepRunning: "always" });
  if (created.status !== 201) throw new Error(`run creation failed: ${JSON.stringify(created.body)}`);
  const runId = created.body.id;
  const w = new RunWatcher(s.url, s.token, runId);
  try {
    await w.state("Ready");
    const login = (await s.api<RunDetail>("GET", `/api/runs/${runId}`)).body.instances.find(
      (i) => i.name === "c.1",
    )?.login;
    if (login) return await commandCostInMachine(login, redis, dataDir, opts);
    const ws = path.join(dataDir, "instances", runId, "c.1");
    const env = readSetenv(path.join(ws, "slipstream.setenv"));
    const bin = (c: string) => path.join(ws, "bin", c);
    await timeProcess(bin("ss-set"), ["k", "v0"], env);
    const got = await timeProcess(bin("ss-get"), ["k"], env);
    if (got.stdout.trim() !== "v0") throw new Error(`ss-get printed ${JSON.stringify(got.stdout)}`);
    const rc = await Resp.connect(redis.port);
    await rc.send("SET", "k", "v0");
    rc.close();
    const n = opts.quick ? 5 : 50;
    opts.log(`command cost: ${n} runs of each`);
    const ssSet: number[] = [];
    const ssGet: number[] = [];
    const redisCli: number[] = [];
    const nodeStart: number[] = [];
    const ssLoad: number[] = [];
    const ipc: number[] = [];
    const ssMjs = path.join(ws, "lib", "ss.mjs");
    const nodeEnv = { ...env, SLIPSTREAM_AGENT_ENDPOINT: undefined };
    const nodeSet: number[] = [];
    const nodeGet: number[] = [];
    const light = [
      async (i: number) => ssSet.push((await timeProcess(bin("ss-set"), ["k", `v${i}`], env)).ms),
      async () => ssGet.push((await timeProcess(bin("ss-get"), ["k"], env)).ms),
      async () => redisCli.push((await timeProcess("redis-cli", ["-p", String(redis.port), "GET", "k"])).ms),
    ];
    for (let i = 0; i < n; i++) {
      await timeProcess("bash", ["-p", "-c", ":"]);
      for (const j of LIGHT_ORDERS[i % LIGHT_ORDERS.length]) await light[j](i);
      ipc.push(await ipcRoundTrip(env.SLIPSTREAM_AGENT_SOCKET!, { op: "param:get", req: { key: "c.1:k" } }));
      nodeStart.push((await timeProcess(process.execPath, ["-e", "0"])).ms);
      ssLoad.push((await timeProcess(process.execPath, [ssMjs, "ss-get", "--help"], env)).ms);
      nodeSet.push((await timeProcess(process.execPath, [ssMjs, "ss-set", "k", `n${i}`], nodeEnv)).ms);
      const r = await timeProcess(process.execPath, [ssMjs, "ss-get", "k"], nodeEnv);
      if (r.stdout !== `n${i}\n`) throw new Error(`node ss.mjs ss-get printed ${JSON.stringify(r.stdout)}`);
      nodeGet.push(r.ms);
    }
    const rss = agentPids(dataDir)
      .map((p) => procStatusMb(p, "VmRSS"))
      .filter((x): x is number => x !== null);
    if (rss.length === 0) throw new Error("no agent process found");
    return {
      where: "host",
      ssSet: stats(ssSet),
      ssGet: stats(ssGet),
      redisCli: stats(redisCli),
      nodeStart: stats(nodeStart),
      ssLoadOnly: stats(ssLoad),
      ipcOnly: stats(ipc),
      agentRssMb: stats(rss),
      viaNode: { set: stats(nodeSet), get: stats(nodeGet) },
    };
  } finally {
    // ended before the server may stop (its instances end with the run)
    await s.api("POST", `/api/runs/${runId}/terminate`);
    await w.ended().finally(() => w.close());
  }
}

/** The host's path of the workspace a login command enters: the directory near it holding its slipstream.setenv. */
function workspaceOfLogin(login: string): string {
  const base = path.dirname(login.split(" ")[0]);
  for (const dir of [base, ...fs.readdirSync(base).map((d) => path.join(base, d))]) {
    if (fs.existsSync(path.join(dir, "slipstream.setenv"))) return dir;
  }
  throw new Error(`no workspace with a slipstream.setenv next to ${login}`);
}

/** The same figures where the instance is a sandboxed machine: all timed inside it, as its recipes would run them. */
async function commandCostInMachine(
  login: string,
  redis: RedisServer,
  dataDir: string,
  opts: LocalBenchOptions,
): Promise<CommandResult> {
  const n = opts.quick ? 5 : 50;
  opts.log(`command cost: ${n} runs of each, inside the machine`);
  const rc = await Resp.connect(redis.port);
  await rc.send("SET", "k", "v0");
  rc.close();
  // the machine may have a network namespace of its own: its redis-cli reaches the bench's Redis by a hard link to
  // the Redis's unix socket in the workspace (both under the system's temporary directory, one file system)
  const link = ".bench-redis.sock";
  const linked = path.join(workspaceOfLogin(login), link);
  fs.rmSync(linked, { force: true });
  fs.linkSync(redis.unixSocket, linked);
  let inside: Awaited<ReturnType<typeof timeInMachine>>;
  try {
    inside = await timeInMachine(login, n, link);
  } finally {
    fs.rmSync(linked, { force: true });
  }
  const rss = agentPids(dataDir)
    .map((p) => procStatusMb(p, "VmRSS"))
    .filter((x): x is number => x !== null);
  if (rss.length === 0) throw new Error("no agent process found");
  return {
    where: "machine",
    ssSet: stats(inside.ssSet),
    ssGet: stats(inside.ssGet),
    redisCli: stats(inside.redisCli),
    nodeStart: stats(inside.nodeStart),
    ssLoadOnly: stats(inside.ssLoad),
    ipcOnly: stats(inside.ipc),
    agentRssMb: stats(rss),
    viaNode: { set: stats(inside.nodeSet), get: stats(inside.nodeGet) },
  };
}

export async function scaleRun(
  s: ChildServer,
  clients: number,
  opts: LocalBenchOptions,
): Promise<ScaleResult & { runId: string }> {
  opts.log(`scale: 1 server + ${clients} clients on the local cloud`);
  const t0 = nowMs();
  const created = await s.api<RunDetail>("POST", "/api/runs", {
    module: "bench/scale",
    multiplicity: { client: clients },
    keepRunning: "never",
  });
  if (created.status !== 201) throw new Error(`run creation failed: ${JSON.stringify(created.body)}`);
  const w = new RunWatcher(s.url, s.token, created.body.id);
  try {
    await w.state("Ready");
    const ready = nowMs();
    const end = await w.ended();
    const done = nowMs();
    if (end.body.type !== "state" || end.body.to !== "Done")
      throw new Error(`scale run ended ${JSON.stringify(end.body)}`);
    return {
      runId: created.body.id,
      instances: clients + 1,
      readyS: (ready - t0) / 1000,
      doneS: (done - t0) / 1000,
      serverHwmMb: procStatusMb(s.pid, "VmHWM"),
    };
  } finally {
    w.close();
  }
}

async function launchChromium() {
  const { chromium } = await import("@playwright/test");
  return chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
  });
}

/** The live half of figure 6 on its own, with a browser of its own (bench/page-live.ts). */
export async function liveRunPage(
  s: ChildServer,
  clients: number,
  opts: LocalBenchOptions,
  cpuProfile?: string,
): Promise<LiveResult> {
  const browser = await launchChromium();
  try {
    return await pageUnderUpdates(s, browser, clients, opts, cpuProfile);
  } finally {
    await browser.close();
  }
}

export async function pageLoad(
  s: ChildServer,
  runId: string,
  clients: number,
  opts: LocalBenchOptions,
): Promise<Omit<PageResult, "skipped" | "instances" | "params">> {
  const browser = await launchChromium();
  try {
    const samples: number[] = [];
    const allRows: number[] = [];
    let jsBytes = 0;
    const n = opts.quick ? 1 : 5;
    opts.log(`page load: ${n} cold loads after a warm-up`);
    // one load first, not counted: it warms the server (Next.js loads the route's modules on first request)
    for (let i = -1; i < n; i++) {
      const context = await browser.newContext({ baseURL: s.url, viewport: { width: 1280, height: 900 } });
      const res = await context.request.post("/api/auth/session", { data: { username: "admin", password: PASSWORD } });
      if (!res.ok()) throw new Error(`sign-in failed: ${res.status()}`);
      const page = await context.newPage();
      const last = `client.${clients}:p${PAGE_PARAMS - 1}`;
      const t0 = nowMs();
      await page.goto(`/runs/${runId}`, { waitUntil: "commit" });
      // what a reader sees first: the run's state, every instance's tile, the parameter panel's first rows (its
      // first render holds 40 groups, more than its 640-px box shows); the rest of the rows follow below
      await page.locator(`[data-instance="client.${clients}"]`).waitFor({ state: "attached", timeout: 60_000 });
      await page.locator('[data-param="client.1:p0"]').waitFor({ state: "attached", timeout: 60_000 });
      await page.locator(".run-state .state").filter({ hasText: "Done" }).waitFor({ timeout: 60_000 });
      if (i >= 0) samples.push(nowMs() - t0);
      await page.locator(`[data-param="${last}"]`).waitFor({ state: "attached", timeout: 60_000 });
      if (i >= 0) allRows.push(nowMs() - t0);
      jsBytes = await page.evaluate(() =>
        performance
          .getEntriesByType("resource")
          .filter((e) => (e as PerformanceResourceTiming).initiatorType === "script" || e.name.endsWith(".js"))
          .reduce((sum, e) => sum + (e as PerformanceResourceTiming).transferSize, 0),
      );
      await context.close();
    }
    const live = await pageUnderUpdates(s, browser, clients, opts);
    return { loadMs: stats(samples), allRowsMs: stats(allRows), jsKb: jsBytes / 1024, live };
  } finally {
    await browser.close();
  }
}

type Browser = Awaited<ReturnType<typeof launchChromium>>;

/**
 * A kept run of the same size, its page open, while parameter writes stream in through the API (10 at a time):
 * how long the main thread is blocked, and how soon the last write shows.
 */
async function pageUnderUpdates(
  s: ChildServer,
  browser: Browser,
  clients: number,
  opts: LocalBenchOptions,
  /** where to write the page's CPU profile of the streaming period (a .cpuprofile for DevTools) */
  cpuProfile?: string,
): Promise<LiveResult> {
  const created = await s.api<RunDetail>("POST", "/api/runs", {
    module: "bench/scale",
    multiplicity: { client: clients },
    keepRunning: "always",
  });
  if (created.status !== 201) throw new Error(`run creation failed: ${JSON.stringify(created.body)}`);
  const runId = created.body.id;
  const w = new RunWatcher(s.url, s.token, runId);
  const context = await browser.newContext({ baseURL: s.url, viewport: { width: 1280, height: 900 } });
  try {
    await w.state("Ready");
    const res = await context.request.post("/api/auth/session", { data: { username: "admin", password: PASSWORD } });
    if (!res.ok()) throw new Error(`sign-in failed: ${res.status()}`);
    const page = await context.newPage();
    await page.goto(`/runs/${runId}`);
    await page.locator(`[data-param="client.${clients}:p${PAGE_PARAMS - 1}"]`).waitFor({ state: "attached" });
    // a string, not a function: tsx would wrap named inner functions in a helper the page does not have
    await page.evaluate(`(() => {
      const probe = { longTasks: [], gaps: [], on: true };
      window.__probe = probe;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) probe.longTasks.push(e.duration);
      }).observe({ type: "longtask" });
      let last = performance.now();
      const frame = (t) => {
        probe.gaps.push(t - last);
        last = t;
        if (probe.on) requestAnimationFrame(frame);
      };
      requestAnimationFrame(frame);
    })()`);
    const updates = opts.quick ? 100 : 2000;
    opts.log(`page under updates: ${updates} parameter writes to a live run of ${clients + 1} instances`);
    const cdp = cpuProfile ? await context.newCDPSession(page) : null;
    if (cdp) {
      await cdp.send("Profiler.enable");
      await cdp.send("Profiler.start");
    }
    const t0 = nowMs();
    let next = 0;
    const writer = async () => {
      for (let i = next++; i < updates; i = next++) {
        const key = `client.${(i % clients) + 1}:p${i % PAGE_PARAMS}`;
        const r = await s.api("PUT", `/api/runs/${runId}/params/${key}`, { value: `u${i}` });
        if (r.status !== 200) throw new Error(`param write failed: ${r.status} ${JSON.stringify(r.body)}`);
      }
    };
    await Promise.all(Array.from({ length: 10 }, writer));
    const written = nowMs();
    const lastKey = `client.${((updates - 1) % clients) + 1}:p${(updates - 1) % PAGE_PARAMS}`;
    await page
      .locator(`[data-param="${lastKey}"] .param-value`)
      .filter({ hasText: `u${updates - 1}` })
      .waitFor();
    const shown = nowMs();
    if (cdp && cpuProfile) fs.writeFileSync(cpuProfile, JSON.stringify((await cdp.send("Profiler.stop")).profile));
    const probe = await page.evaluate(() => {
      const p = (window as unknown as { __probe: { longTasks: number[]; gaps: number[]; on: boolean } }).__probe;
      p.on = false;
      return { longTasks: p.longTasks, gaps: p.gaps };
    });
    return {
      updates,
      seconds: (written - t0) / 1000,
      longTasks: probe.longTasks.length,
      longestTaskMs: Math.max(0, ...probe.longTasks),
      frameGapMs: stats(probe.gaps),
      lastShownMs: shown - written,
    };
  } finally {
    await context.close();
    // ended before the server may stop: stopped halfway, its 200 instances' control groups were left on the machine
    await s.api("POST", `/api/runs/${runId}/terminate`);
    await w.ended().finally(() => w.close());
  }
}

/** Figure 2 alone (profiling and checks): a server of its own, one kept run, the command costs. */
export async function commandBenchmark(redis: RedisServer, opts: LocalBenchOptions): Promise<CommandResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ss-bench-"));
  const s = await startChildServer(dataDir, false);
  try {
    await pushModules(s);
    return await commandCost(s, dataDir, redis, opts);
  } finally {
    await s.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function localBenchmarks(
  redis: RedisServer,
  opts: LocalBenchOptions,
): Promise<{
  command: CommandResult;
  scale: ScaleResult[];
  idleServerRssMb: number | null;
  page: PageResult;
  memory: InstanceMemory;
}> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ss-bench-"));
  let s = await startChildServer(dataDir, false);
  try {
    const idleServerRssMb = procStatusMb(s.pid, "VmRSS");
    await pushModules(s);
    await settle("2. command cost");
    const command = await commandCost(s, dataDir, redis, opts);
    const scale: (ScaleResult & { runId: string })[] = [];
    for (const clients of opts.quick ? [5] : [100, 200]) {
      await settle(`5. scale, ${clients} clients`);
      scale.push(await scaleRun(s, clients, opts));
    }
    // what each local instance takes, all its processes counted, in a run kept in Ready (5a)
    await settle("5a. memory per instance");
    const memory = await memoryRun(s, dataDir, opts.quick ? 5 : 100);
    await s.stop();

    const biggest = scale[scale.length - 1];
    const clients = biggest.instances - 1;
    const params = (await (async () => {
      s = await startChildServer(dataDir, false);
      const r = await s.api<{ params: unknown[] }>("GET", `/api/runs/${biggest.runId}/params`);
      await s.stop();
      return r.body.params.length;
    })()) as number;
    const base = { instances: biggest.instances, params };
    let page: PageResult;
    if (!fs.existsSync(path.join(ROOT, ".next", "BUILD_ID"))) {
      page = {
        ...base,
        skipped: "the UI is not built (node scripts/ensure-build.mjs)",
        loadMs: null,
        allRowsMs: null,
        jsKb: null,
        live: null,
      };
    } else if (!fs.existsSync(CHROMIUM)) {
      page = { ...base, skipped: `no Chromium at ${CHROMIUM}`, loadMs: null, allRowsMs: null, jsKb: null, live: null };
    } else {
      s = await startChildServer(dataDir, true);
      await settle("6. run page");
      page = { ...base, skipped: null, ...(await pageLoad(s, biggest.runId, clients, opts)) };
    }
    return { command, scale, idleServerRssMb, page, memory };
  } finally {
    await s.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
