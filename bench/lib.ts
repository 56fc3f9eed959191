/** Small helpers of the benchmarks: statistics, the machine, a free port, redis-server and a minimal RESP client. */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { requestIdOf } from "../protocol/agent-socket.js";
import { freePort } from "../server/testing/free-port.js";

export interface Stats {
  n: number;
  p10: number;
  p25: number;
  median: number;
  p75: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
}

/** Nearest-rank percentiles of `samples` (any unit). */
export function stats(samples: number[]): Stats {
  if (samples.length === 0) throw new Error("no samples");
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  return {
    n: s.length,
    p10: at(10),
    p25: at(25),
    median: at(50),
    p75: at(75),
    p90: at(90),
    p99: at(99),
    min: s[0],
    max: s[s.length - 1],
  };
}

export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

/** The Long Tasks API reports only tasks over this long (ms): below it a page's longest task is not known. */
export const LONG_TASK_MS = 50;

/** A page's longest main-thread task and how many went over the threshold, as a row shows them. */
export function longestTaskText(longestMs: number, count: number): { value: string; ofBudget: string } {
  if (count === 0) {
    return {
      value: `under ${LONG_TASK_MS} (no task over ${LONG_TASK_MS} ms, the Long Tasks API's threshold)`,
      ofBudget: `under ${(LONG_TASK_MS / 200).toFixed(2)} of 200 ms`,
    };
  }
  return {
    value: `${longestMs.toFixed(0)} (${count} task${count === 1 ? "" : "s"} over ${LONG_TASK_MS} ms)`,
    ofBudget: `${(longestMs / 200).toFixed(2)} of 200 ms`,
  };
}
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function machine(): { cpu: string; cores: number; memory: string; node: string; os: string } {
  let cpu = os.cpus()[0]?.model ?? "unknown";
  try {
    const info = fs.readFileSync("/proc/cpuinfo", "utf8");
    cpu = /model name\s*:\s*(.*)/.exec(info)?.[1] ?? cpu;
  } catch {}
  return {
    cpu,
    cores: os.availableParallelism?.() ?? os.cpus().length,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    os: `${os.type()} ${os.release()}`,
  };
}

// the tests' own (the bench starts the same real server processes)
export { freePort };

/** Wall time of one process run to its exit, in ms (async, so an in-process server keeps serving). */
export function timeProcess(
  file: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
): Promise<{ ms: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const t0 = nowMs();
    execFile(file, args, { env }, (err, stdout, stderr) => {
      const ms = nowMs() - t0;
      if (err) reject(new Error(`${file} ${args.join(" ")}: ${err.message} ${stderr}`));
      else resolve({ ms, stdout });
    });
  });
}

/** Reads a /proc/<pid>/status field in kB, as MB. */
export function procStatusMb(pid: number, field: "VmHWM" | "VmRSS"): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

type Reply = string | number | null | Reply[] | Error;

/** A minimal RESP2 client: commands are answered in order; pub/sub pushes go to `onMessage`. */
export class Resp {
  private buf = Buffer.alloc(0);
  private pending: ((r: Reply) => void)[] = [];
  subscribed = false;
  onMessage: ((channel: string, message: string) => void) | null = null;

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on("data", (d) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      for (;;) {
        const parsed = this.parse(0);
        if (!parsed) break;
        this.buf = this.buf.subarray(parsed[1]);
        this.dispatch(parsed[0]);
      }
    });
  }

  static connect(port: number): Promise<Resp> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(port, "127.0.0.1");
      s.once("connect", () => resolve(new Resp(s)));
      s.once("error", reject);
    });
  }

  private dispatch(r: Reply) {
    if (this.subscribed && Array.isArray(r) && r[0] === "message") {
      this.onMessage?.(String(r[1]), String(r[2]));
      return;
    }
    this.pending.shift()?.(r);
  }

  private parse(at: number): [Reply, number] | null {
    const nl = this.buf.indexOf("\r\n", at);
    if (nl === -1) return null;
    const type = String.fromCharCode(this.buf[at]);
    const line = this.buf.toString("utf8", at + 1, nl);
    const next = nl + 2;
    switch (type) {
      case "+":
        return [line, next];
      case "-":
        return [new Error(line), next];
      case ":":
        return [Number(line), next];
      case "$": {
        const len = Number(line);
        if (len < 0) return [null, next];
        if (this.buf.length < next + len + 2) return null;
        return [this.buf.toString("utf8", next, next + len), next + len + 2];
      }
      case "*": {
        const count = Number(line);
        if (count < 0) return [null, next];
        const items: Reply[] = [];
        let pos = next;
        for (let i = 0; i < count; i++) {
          const item = this.parse(pos);
          if (!item) return null;
          items.push(item[0]);
          pos = item[1];
        }
        return [items, pos];
      }
      default:
        throw new Error(`RESP: unexpected type byte ${type}`);
    }
  }

  /** Sends a command without waiting (the reply still resolves in order). */
  send(...args: string[]): Promise<Reply> {
    let out = `*${args.length}\r\n`;
    for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    return new Promise((resolve) => {
      this.pending.push(resolve);
      this.socket.write(out);
    });
  }

  async subscribe(channel: string): Promise<void> {
    await this.send("SUBSCRIBE", channel);
    this.subscribed = true;
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * One sample of the wake benchmarks' reference: a BLPOP on `ra`, then 2 ms later an LPUSH on `rb` to the same `key`,
 * timed from just before the LPUSH is sent until the BLPOP's answer is read (ms).
 */
export async function redisWakeSample(ra: Resp, rb: Resp, key: string): Promise<number> {
  let done = 0;
  const blpop = ra.send("BLPOP", key, "0").then(() => {
    done = nowMs();
  });
  await sleep(2);
  const t0 = nowMs();
  rb.send("LPUSH", key, "x");
  await blpop;
  return done - t0;
}

/** A peer's request over some wire, resolved with its answer (the server's ack). */
export type WakeCall = (event: "param:get" | "param:set", payload: Record<string, unknown>) => Promise<unknown>;

/**
 * `n` wakes, interleaved with as many of Redis so that both see the same machine at the same moment: a's blocked
 * `param:get` of b.1's key `wN` answered by b's `param:set` 2 ms later, timed from just before the set is sent until
 * the get's answer is read; then a BLPOP answered by an LPUSH (`redisWakeSample`). Samples in ms, in order.
 */
export async function wakeSamples(
  a: WakeCall,
  b: WakeCall,
  ra: Resp,
  rb: Resp,
  n: number,
  tag: string,
): Promise<{ server: number[]; redis: number[] }> {
  const server: number[] = [];
  const redis: number[] = [];
  await rb.send("DEL", ...Array.from({ length: n }, (_, i) => `wake:${tag}:${i}`));
  for (let i = 0; i < n; i++) {
    let done = 0;
    // with request ids, as the agent sends every request (agent/server-link.ts): a set's answer is stored with it
    const get = { key: `b.1:w${i}`, timeout: 0, requestId: requestIdOf(Date.now(), tag, 2 * i) };
    const waiting = a("param:get", get).then((ack) => {
      done = nowMs();
      if (!(ack as { ok?: boolean }).ok) throw new Error(`param:get failed: ${JSON.stringify(ack)}`);
    });
    await sleep(2);
    const t0 = nowMs();
    void b("param:set", { key: `b.1:w${i}`, value: "x", requestId: requestIdOf(Date.now(), tag, 2 * i + 1) });
    await waiting;
    server.push(done - t0);

    redis.push(await redisWakeSample(ra, rb, `wake:${tag}:${i}`));
  }
  return { server, redis };
}

export interface RedisServer {
  port: number;
  /**
   * Its unix socket (mode 777), in a directory of its own under the system's temporary directory: a hard link to it
   * elsewhere on that file system (a sandboxed machine's workspace) reaches it where loopback TCP does not.
   */
  unixSocket: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Starts redis-server on a free loopback port, without persistence; resolves once it answers PING. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ss-bench-redis-"));
  const unixSocket = path.join(dir, "redis.sock");
  const proc = spawn(
    "redis-server",
    [
      ...["--port", String(port), "--bind", "127.0.0.1", "--unixsocket", unixSocket, "--unixsocketperm", "777"],
      ...["--save", "", "--appendonly", "no", "--maxclients", "5000"],
    ],
    { stdio: "ignore" },
  );
  // a bench that exits without stop() (process.exit, an uncaught error) takes its Redis along: scratch runs once left
  // 45 idle ones behind, a fifth of a core between them under the measurements that followed
  const removeDir = () => fs.rmSync(dir, { recursive: true, force: true });
  const orphaned = () => {
    proc.kill("SIGKILL");
    removeDir();
  };
  process.once("exit", orphaned);
  proc.once("exit", () => {
    process.off("exit", orphaned);
    removeDir();
  });
  const failed = new Promise<never>((_, reject) =>
    proc.once("error", (e) => reject(new Error(`redis-server: ${e.message}`))),
  );
  for (let i = 0; i < 200; i++) {
    const ok = await Promise.race([
      failed,
      Resp.connect(port).then(
        async (c) => {
          const r = await c.send("PING");
          c.close();
          return r === "PONG";
        },
        () => false,
      ),
    ]);
    if (ok) break;
    await sleep(25);
  }
  return {
    port,
    unixSocket,
    proc,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once("exit", () => resolve());
        proc.kill("SIGTERM");
      }),
  };
}

/** The machine's CPU time so far, busy and all, in clock ticks (/proc/stat's first line). */
function cpuTicks(): { busy: number; total: number } {
  const fields = fs.readFileSync("/proc/stat", "utf8").split("\n", 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  // idle and iowait are the CPUs' time with nothing to run
  return { busy: total - fields[3] - (fields[4] ?? 0), total };
}

export interface Settled {
  /** the figure about to be measured */
  before: string;
  waitedMs: number;
  /** the machine's busy share (0–1) over the last window */
  busy: number;
  /** false when the wait gave up at its deadline, the machine still busy */
  quiet: boolean;
}

/** every wait of `settle` in this process, for RESULTS.md's notes; off (no waiting) until `settling(true)` */
export const settledLog: Settled[] = [];
let settlingOn = false;
export function settling(on: boolean): void {
  settlingOn = on;
}

/**
 * Before a figure is measured, waits until the machine is quiet (at most `maxMs`): two 500 ms windows in a row with
 * its CPUs under `busyBelow` busy. The figure then times our work, not the teardown of the figure before (hundreds of
 * local instances' processes exiting, a closed browser) or other work on the machine. Full runs only: quick runs
 * (in `npm test`) do not wait.
 */
export async function settle(before: string, maxMs = 60_000, busyBelow = 0.15): Promise<void> {
  if (!settlingOn) return;
  const t0 = nowMs();
  let quietWindows = 0;
  let last = cpuTicks();
  while (true) {
    await sleep(500);
    const now = cpuTicks();
    const busy = (now.busy - last.busy) / Math.max(1, now.total - last.total);
    last = now;
    quietWindows = busy < busyBelow ? quietWindows + 1 : 0;
    const waitedMs = nowMs() - t0;
    if (quietWindows >= 2 || waitedMs >= maxMs) {
      settledLog.push({ before, waitedMs, busy, quiet: quietWindows >= 2 });
      return;
    }
  }
}
