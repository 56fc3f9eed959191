/** Benchmarks 1, 3 and 4: against an in-process server whose instances are AgentPeer test peers on /agent. */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { io as ioClient, type Socket } from "socket.io-client";
import { requestIdOf } from "../protocol/agent-socket.js";
import type { RunDetail, RunEvent } from "../protocol/run.js";
import type { UiClientToServer, UiServerToClient } from "../protocol/ui-socket.js";
import { PROTOCOL_VERSION } from "../protocol/version.js";
import { AgentPeer, PeerCloud, startTestServer, type TestServer } from "../server/testing/harness.js";
import { nowMs, type RedisServer, Resp, type Stats, settle, sleep, stats, wakeSamples } from "./lib.js";

const here = path.dirname(fileURLToPath(import.meta.url));

export interface PeerBenchOptions {
  quick: boolean;
  log: (line: string) => void;
  /** profiling: only the throughput part (the others then report a single dummy sample) */
  throughputOnly?: boolean;
  /** profiling: only fan-out, at these sizes (wake then takes one sample, throughput is skipped) */
  fanoutOnly?: number[];
  /** profiling: only wake latency (fan-out and throughput are skipped) */
  wakeOnly?: boolean;
}

export interface WakeResult {
  server: Stats;
  redis: Stats;
  /** how many wakes the server answered before the measured ones */
  warmedBy: number;
  /** each warm-up pass's p50s, in order (ms): the first on a server that had not woken a reader yet (cold) */
  passes: { server: number; redis: number }[];
}
export interface FanoutResult {
  watchers: number;
  server: Stats;
  redis: Stats;
}
export interface ThroughputResult {
  agents: number;
  watchers: number;
  seconds: number;
  writesPerSecond: number;
  errors: number;
  /** Redis SET + PUBLISH, the PUBLISH reaching no subscriber */
  redisPerSecond: number;
  /** the same, each PUBLISH read by as many subscribers as the server had watchers (NaN in quick runs) */
  redisSubscribedPerSecond: number;
  /** the server thread's CPU time per acknowledged write (µs; NaN where /proc has no per-thread times) */
  serverCpuUsPerWrite: number;
  /** the agents' thread's CPU time per acknowledged write (µs; NaN likewise) */
  clientCpuUsPerWrite: number;
}

/** CPU time (user + system) of this process's main thread, in ms, from /proc (10 ms ticks). */
function mainThreadCpuMs(): number {
  try {
    const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

const WAIT_KEYS = 1000;
/**
 * Passes of WAIT_KEYS wakes, each on a pair run of its own, before the measured one: a server that has run a while
 * answers from code V8 has optimized, which takes thousands of wakes. On 2026-12-04, passes of one process had p50s
 * of 0.58, 0.43, 0.30, 0.28, 0.27, then 0.26, 0.25, 0.27 ms: flat from the fifth. Every pass's p50 is reported with
 * the measured one (`passes`), the first as the server's cold start too.
 */
const WARMUP_PASSES = 5;

function imageYaml(): string {
  const params = Array.from({ length: WAIT_KEYS }, (_, i) => `  - { name: w${i}, category: output }`);
  return `kind: image\nparameters:\n  - { name: t0, category: output }\n${params.join("\n")}\n`;
}

async function pushModules(s: TestServer): Promise<void> {
  const res = await s.api("POST", "/api/modules/import", {
    files: [
      { path: "bench/peer", yaml: imageYaml() },
      {
        path: "bench/pair",
        yaml: "kind: deployment\nnodes:\n  a: { image: peer }\n  b: { image: peer }\n",
      },
      { path: "bench/many", yaml: "kind: deployment\nnodes:\n  n: { image: peer }\n" },
    ],
  });
  if (res.status !== 200) throw new Error(`module import failed: ${JSON.stringify(res.body)}`);
}

async function createRun(s: TestServer, module: string, clouds: Record<string, string>, multiplicity = {}) {
  const res = await s.api<RunDetail>("POST", "/api/runs", { module, clouds, multiplicity, keepRunning: "never" });
  if (res.status !== 201) throw new Error(`run creation failed: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Connects peers for every instance, completes Provisioning, resolves once they are all in Executing. */
async function peersToExecuting(s: TestServer, cloud: PeerCloud, run: RunDetail): Promise<Map<string, AgentPeer>> {
  const peers = new Map<string, AgentPeer>();
  for (const i of run.instances) peers.set(i.name, new AgentPeer(s.url, (await cloud.launched(i.name)).token));
  await Promise.all([...peers.values()].map((p) => p.completeWhen("Provisioning")));
  await Promise.all([...peers.values()].map((p) => p.until((st) => st.state === "Executing")));
  return peers;
}

type UiSocket = Socket<UiServerToClient, UiClientToServer>;

/** /ui clients subscribed to a run; `onEvent` sees every live event. */
async function connectWatchers(
  s: TestServer,
  runId: string,
  n: number,
  onEvent: (e: RunEvent) => void,
): Promise<UiSocket[]> {
  const sockets: UiSocket[] = [];
  const BATCH = 50;
  for (let i = 0; i < n; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, n - i) }, () => {
      const socket: UiSocket = ioClient(`${s.url}/ui`, {
        auth: { token: s.token, protocolVersion: PROTOCOL_VERSION },
        transports: ["websocket"],
        reconnection: false,
      });
      sockets.push(socket);
      return new Promise<void>((resolve, reject) => {
        socket.once("connect_error", reject);
        socket.once("connect", () => socket.emit("run:subscribe", { runId, since: 0 }, () => resolve()));
      }).then(() => {
        socket.on("run:events", (events) => {
          for (const e of events) onEvent(e);
        });
      });
    });
    await Promise.all(batch);
  }
  return sockets;
}

/**
 * One fan-out size: N /ui watchers and N Redis subscribers in a worker thread; each change is a `param:set` from
 * peer b (then a PUBLISH from `pub`), timed from just before it is sent until the worker's last client has it.
 */
async function fanoutRound(
  s: TestServer,
  runId: string,
  b: AgentPeer,
  pub: Resp,
  redisPort: number,
  n: number,
  iterations: number,
): Promise<FanoutResult> {
  const key = "b.1:t0";
  const worker = new Worker(path.join(here, "fanout-watchers.mjs"), {
    workerData: {
      url: s.url,
      token: s.token,
      runId,
      protocolVersion: PROTOCOL_VERSION,
      n,
      redisPort,
      channel: "fanout",
      key,
    },
  });
  const arrivals = new Map<string, (at: number) => void>();
  const failed = new Promise<never>((_, reject) => {
    worker.once("error", reject);
    worker.on("message", (m: { type: string; side?: string; value?: string; at?: number; message?: string }) => {
      if (m.type === "error") reject(new Error(`fan-out watchers: ${m.message}`));
      if (m.type === "all") arrivals.get(`${m.side}\0${m.value}`)?.(m.at!);
    });
  });
  failed.catch(() => {});
  // a push some client never gets fails the bench instead of hanging it
  const arrival = (side: string, value: string) =>
    Promise.race([
      failed,
      new Promise<number>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`fan-out: not all ${n} ${side} clients got ${value} within 60 s`)),
          60_000,
        );
        arrivals.set(`${side}\0${value}`, (at) => {
          clearTimeout(timer);
          arrivals.delete(`${side}\0${value}`);
          resolve(at);
        });
      }),
    ]);
  try {
    await Promise.race([failed, new Promise((resolve) => worker.once("message", resolve))]);
    const serverLat: number[] = [];
    const redisLat: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const value = `v${n}-${i}`;
      const all = arrival("server", value);
      const t0 = nowMs();
      b.call("param:set", { key, value, requestId: requestIdOf(Date.now(), "fanout", n * iterations + i) });
      serverLat.push((await all) - t0);

      const rAll = arrival("redis", value);
      const r0 = nowMs();
      pub.send("PUBLISH", "fanout", value);
      redisLat.push((await rAll) - r0);
      await sleep(2);
    }
    return { watchers: n, server: stats(serverLat), redis: stats(redisLat) };
  } finally {
    worker.postMessage("close");
    await worker.terminate();
  }
}

/**
 * Figure 4's reference: `writers` RESP connections each a closed loop of SET + PUBLISH on channel tp for `seconds`,
 * with `subscribers` connections subscribed to it, each reading every message. Writes per second.
 */
async function redisWriteLoop(port: number, writers: number, subscribers: number, seconds: number): Promise<number> {
  const subs = await Promise.all(Array.from({ length: subscribers }, () => Resp.connect(port)));
  let received = 0;
  for (const sub of subs) {
    sub.onMessage = () => {
      received++;
    };
    await sub.subscribe("tp");
  }
  const conns = await Promise.all(Array.from({ length: writers }, () => Resp.connect(port)));
  let ok = 0;
  const t0 = nowMs();
  const end = t0 + seconds * 1000;
  await Promise.all(
    conns.map(async (c, i) => {
      let n = 0;
      while (nowMs() < end) {
        const v = String(n++);
        c.send("SET", `tp:${i}`, v);
        const reached = await c.send("PUBLISH", "tp", v);
        if (reached !== subscribers)
          throw new Error(`PUBLISH reached ${String(reached)} of ${subscribers} subscribers`);
        ok++;
      }
    }),
  );
  const elapsed = nowMs() - t0;
  for (const c of [...conns, ...subs]) c.close();
  if (subscribers > 0 && received === 0) throw new Error("the Redis subscribers received no message");
  return ok / (elapsed / 1000);
}

/** `n` interleaved wakes (lib.ts `wakeSamples`) between two agents of a pair run: a.1 waits, b.1 sets. */
async function pairWakes(a: AgentPeer, b: AgentPeer, ra: Resp, rb: Resp, n: number, tag: string) {
  const sampled = await wakeSamples(
    (e, p) => a.call(e, p as never),
    (e, p) => b.call(e, p as never),
    ra,
    rb,
    n,
    tag,
  );
  return { server: stats(sampled.server), redis: stats(sampled.redis) };
}

export async function peerBenchmarks(
  redis: RedisServer,
  opts: PeerBenchOptions,
): Promise<{ wake: WakeResult; fanout: FanoutResult[]; throughput: ThroughputResult }> {
  const cloud = new PeerCloud();
  const s = await startTestServer({ connectors: new Map([["peer", cloud]]) });
  // the throughput run has 100 instances of an image with a thousand parameters each: over the default limit, as an
  // admin would raise it for such a test
  s.app.settings.setLimits({ paramsPerRun: 200_000, eventsPerRun: 10_000_000 }, "bench");
  const closers: (() => void)[] = [];
  try {
    await pushModules(s);
    const pairRun = await createRun(s, "bench/pair", { a: "peer", b: "peer" });
    const peers = await peersToExecuting(s, cloud, pairRun);
    for (const p of peers.values()) closers.push(() => p.close());
    const a = peers.get("a.1")!;
    const b = peers.get("b.1")!;
    await b.call("param:set", { key: "b.1:t0", value: "start" });

    // 1. wake latency
    await settle("1. wake latency");
    const wakeN = opts.throughputOnly || opts.fanoutOnly ? 1 : opts.quick ? 20 : WAIT_KEYS;
    opts.log(
      `wake latency: ${wakeN} samples each${wakeN === WAIT_KEYS ? `, after ${WARMUP_PASSES} passes as many` : ""}`,
    );
    const ra = await Resp.connect(redis.port);
    const rb = await Resp.connect(redis.port);
    closers.push(
      () => ra.close(),
      () => rb.close(),
    );
    const warmups = wakeN === WAIT_KEYS ? WARMUP_PASSES : 0;
    const passes: WakeResult["passes"] = [];
    for (let pass = 0; pass < warmups; pass++) {
      const run = await createRun(s, "bench/pair", { a: "peer", b: "peer" });
      const pair = await peersToExecuting(s, cloud, run);
      const sampled = await pairWakes(pair.get("a.1")!, pair.get("b.1")!, ra, rb, wakeN, `warm${pass}`);
      passes.push({ server: sampled.server.median, redis: sampled.redis.median });
      for (const p of pair.values()) p.close();
      await s.api("POST", `/api/runs/${run.id}/terminate`);
    }
    const wake: WakeResult = {
      ...(await pairWakes(a, b, ra, rb, wakeN, "measured")),
      warmedBy: warmups * wakeN,
      passes,
    };

    // 3. fan-out: the watchers and the Redis subscribers in one worker thread (bench/fanout-watchers.mjs)
    const fanout: FanoutResult[] = [];
    for (const n of opts.fanoutOnly ??
      (opts.throughputOnly || opts.wakeOnly ? [] : opts.quick ? [10] : [10, 100, 500, 2000])) {
      const iterations = opts.quick ? 10 : 200;
      opts.log(`fan-out: ${n} watchers, ${iterations} changes`);
      fanout.push(await fanoutRound(s, pairRun.id, b, rb, redis.port, n, iterations));
    }

    if (opts.fanoutOnly || opts.wakeOnly) {
      const none = {
        agents: 0,
        watchers: 0,
        seconds: 0,
        writesPerSecond: 0,
        errors: 0,
        redisPerSecond: 0,
        redisSubscribedPerSecond: 0,
      };
      return {
        wake,
        fanout,
        throughput: { ...none, serverCpuUsPerWrite: Number.NaN, clientCpuUsPerWrite: Number.NaN },
      };
    }

    await settle("4. throughput");
    // 4. throughput: agents in a worker thread, a few /ui watchers here (moved into the agents' thread they took less
    // of the server thread's CPU, but writes/s were lower in every alternate run: the agents' thread is a stage of the
    // closed loop as much as the server's)
    const agentsN = opts.quick ? 10 : 100;
    const watchersN = opts.quick ? 2 : 5;
    const seconds = opts.quick ? 1 : 10;
    opts.log(`throughput: ${agentsN} agents, ${watchersN} watchers, ${seconds}s`);
    const manyRun = await createRun(s, "bench/many", { n: "peer" }, { n: agentsN });
    const agents: { token: string; key: string }[] = [];
    for (const i of manyRun.instances)
      agents.push({ token: (await cloud.launched(i.name)).token, key: `${i.name}:t0` });
    let watcherEvents = 0;
    const watchSockets = await connectWatchers(s, manyRun.id, watchersN, (e) => {
      if (e.body.type === "param") watcherEvents++;
    });
    closers.push(() => {
      for (const so of watchSockets) so.close();
    });
    const worker = new Worker(path.join(here, "agent-load.mjs"), {
      workerData: { url: s.url, agents, protocolVersion: PROTOCOL_VERSION, durationMs: seconds * 1000 },
    });
    // the server's thread (with the watchers, which live in it too): CPU time per write, far less sensitive than
    // writes/s to other work on the machine
    let cpu0 = mainThreadCpuMs();
    type LoadDone = { ok: number; errors: number; elapsedMs: number; cpuMs: number };
    const result = await new Promise<LoadDone>((resolve, reject) => {
      worker.on("error", reject);
      worker.on("message", (m: { type: string } & LoadDone) => {
        if (m.type === "ready") {
          cpu0 = mainThreadCpuMs();
          worker.postMessage("go");
        }
        if (m.type === "done") resolve(m);
      });
    });
    const cpuMs = mainThreadCpuMs() - cpu0;
    await worker.terminate();
    if (watcherEvents === 0) throw new Error("the watchers received no parameter events");

    // reference: the same closed loop of writes from as many redis connections, SET + PUBLISH (persist + fan out), the
    // PUBLISH reaching no one: the stricter reference, which the target is judged by; and, for the record, the same
    // with as many subscribers as the server had watchers, in this thread as the watchers are
    const redisRate = await redisWriteLoop(redis.port, agentsN, 0, seconds);
    const redisSubscribed = opts.quick ? Number.NaN : await redisWriteLoop(redis.port, agentsN, watchersN, seconds);
    const throughput: ThroughputResult = {
      agents: agentsN,
      watchers: watchersN,
      seconds,
      writesPerSecond: result.ok / (result.elapsedMs / 1000),
      errors: result.errors,
      redisPerSecond: redisRate,
      redisSubscribedPerSecond: redisSubscribed,
      serverCpuUsPerWrite: (cpuMs * 1000) / Math.max(1, result.ok),
      clientCpuUsPerWrite: (result.cpuMs * 1000) / Math.max(1, result.ok),
    };
    return { wake, fanout, throughput };
  } finally {
    for (const c of closers) c();
    await s.close({ stopInstances: true });
    // peer instances only: nothing of them is on the machine, their data directory is all there is
    fs.rmSync(s.dataDir, { recursive: true, force: true });
  }
}
