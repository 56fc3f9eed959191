import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { RunDetail, RunEvent } from "../../protocol/run.js";
import { processesWithEnv, signal, waitGone } from "../connectors/process-tree.js";
import { ROOT } from "../root.js";
import { freePort } from "../testing/free-port.js";
import { RunWatcher } from "../testing/watch.js";

/**
 * Issue 13 item 7, the chaos run shared by `server/chaos/chaos.test.ts` and `bench/chaos.ts`: the server as a
 * process of its own (`server/testing/peer-server.ts`, the local cloud unsandboxed) runs batches of runs whose real
 * local agents `ss-set` a series of keys, each recipe appending to a file outside its workspace every key whose
 * `ss-set` exited 0. At moments drawn from a seeded PRNG, the server is killed with SIGKILL and started again on the
 * same port and data, or one agent is killed with SIGKILL (its instance is then lost after the run's grace and the
 * run aborts: a valid end, as long as it ends). Afterwards, the invariants: every run ended (Done, Aborted, Cancelled)
 * within its deadline; each run's stored event sequence numbers are 1..n with no gap or duplicate, and a browser-like
 * watcher that followed it across every restart received exactly those; every acknowledged write is stored with its
 * value and its parameter event is in the log exactly once (no write, acknowledged or not, twice).
 */

interface ChaosOptions {
  seed: number;
  /** batches of concurrent runs */
  batches: number;
  runsPerBatch: number;
  /** instances per run */
  multiplicity: number;
  /** keys each instance sets */
  keys: number;
  /** how long chaos is injected into a batch, from its launch (ms) */
  chaosWindowMs: number;
  /** a run must have ended this long after its launch (ms) */
  runDeadlineMs: number;
  /** the runs' grace before an unanswering agent is lost (s) */
  lostAfterSeconds: number;
  /** no batch is started past this, from the start (ms): the whole stays bounded on a loaded machine */
  budgetMs: number;
  log: (line: string) => void;
}

export const CHAOS_DEFAULTS: Omit<ChaosOptions, "seed" | "log"> = {
  batches: 5,
  runsPerBatch: 3,
  multiplicity: 2,
  keys: 24,
  chaosWindowMs: 20_000,
  runDeadlineMs: 75_000,
  lostAfterSeconds: 3,
  budgetMs: 150_000,
};

export interface ChaosResult {
  seed: number;
  runs: number;
  /** final state → runs that ended in it */
  outcomes: Record<string, number>;
  serverKills: number;
  agentKills: number;
  /** instances the server declared lost */
  instancesLost: number;
  /** ss-set calls that exited 0, each checked stored once with its value */
  ackedWrites: number;
  /** of those, the ones missing or with another value */
  ackedMissing: number;
  /** stored events checked over all runs */
  eventsChecked: number;
  /** sequence numbers missing from a run's log, or stored but never received by its watcher */
  eventsLost: number;
  /** sequence numbers stored twice, and parameter writes stored more than once */
  duplicates: number;
  /** runs that had not ended by their deadline */
  deadlineMisses: number;
  seconds: number;
  violations: string[];
}

/** A small seeded PRNG (mulberry32): the same seed replays the same choices. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** CHAOS_SEED from the environment (to replay a run), else a fresh one. */
export function chaosSeed(): number {
  const env = process.env.CHAOS_SEED;
  if (env && /^\d+$/.test(env)) return Number(env) >>> 0;
  return Math.floor(Math.random() * 2 ** 32) >>> 0;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface ServerProcess {
  p: ChildProcess;
  url: string;
  token: string;
}

/** Starts peer-server.ts on `port` and `dataDir`; resolves once it has signed in (it prints `listening`). */
function startServerProcess(port: number, dataDir: string, logFile: string): Promise<ServerProcess> {
  return spawnServer(port, dataDir, logFile).listening;
}

/** The process at once (to be killed while it boots), and its `listening`. */
function spawnServer(
  port: number,
  dataDir: string,
  logFile: string,
): { p: ChildProcess; listening: Promise<ServerProcess> } {
  let child: ChildProcess | null = null;
  const listening = new Promise<ServerProcess>((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", "server/testing/peer-server.ts"], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATA_DIR: dataDir,
        PORT: String(port),
        TEST_LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = p;
    const log = createWriteStream(logFile, { flags: "a" });
    log.write(`--- server pid ${p.pid} started ${new Date().toISOString()}\n`);
    p.stderr!.pipe(log);
    let out = "";
    let started = false;
    p.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const lines = out.split("\n");
      out = lines.pop()!;
      for (const line of lines) {
        const [what, url, token] = line.split(" ");
        if (what === "listening" && !started) {
          started = true;
          resolve({ p, url, token });
        }
      }
    });
    p.once("exit", (code, sig) => {
      log.write(`--- server pid ${p.pid} exited ${code ?? sig}\n`);
      if (!started) reject(new Error(`chaos: the server exited ${code ?? sig} before listening (see ${logFile})`));
    });
  });
  return { p: child!, listening };
}

async function killProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once("exit", r));
  p.kill("SIGKILL");
  await exited;
}

const TAG = "SLIPSTREAM_LOCAL_INSTANCE";

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
}

/** Every process of a local instance (its agent, recipes and what they started), found by the marker in their env. */
async function instanceProcesses(hostDir: string): Promise<number[]> {
  return (await processesWithEnv(`${TAG}=${hostDir}`)) ?? [];
}

interface Track {
  id: string;
  batch: number;
  launchedAt: number;
  watcher: RunWatcher;
  final: string | null;
  endedAfterMs: number | null;
}

const IMAGE = (keys: number, ackDir: string) => `kind: image
description: chaos writer — sets k1..k${keys}, noting each acknowledged write outside its workspace
parameters:
${Array.from({ length: keys }, (_, i) => `  - { name: k${i + 1}, category: output }`).join("\n")}
targets:
  execute: |
    #!/bin/sh
    out="${ackDir}/$SLIPSTREAM_DIID.$SLIPSTREAM_NODE_INSTANCE_NAME"
    i=1
    while [ $i -le ${keys} ]; do
      if ss-set k$i "$SLIPSTREAM_NODE_INSTANCE_NAME/$i"; then echo "k$i" >> "$out"; fi
      i=$((i+1))
      sleep 0.2
    done
  report: |
    #!/bin/sh
    echo "report of $SLIPSTREAM_NODE_INSTANCE_NAME" > "$SLIPSTREAM_REPORT_DIR/note.txt"
`;

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const t0 = Date.now();
  const rng = prng(opts.seed);
  const between = (lo: number, hi: number) => lo + rng() * (hi - lo);
  const log = opts.log;
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "ss-chaos-"));
  const dataDir = path.join(root, "data");
  const ackDir = path.join(root, "acked");
  const serverLog = path.join(root, "server.log");
  await fs.mkdir(dataDir);
  await fs.mkdir(ackDir);
  const port = await freePort();
  const result: ChaosResult = {
    seed: opts.seed,
    runs: 0,
    outcomes: {},
    serverKills: 0,
    agentKills: 0,
    instancesLost: 0,
    ackedWrites: 0,
    ackedMissing: 0,
    eventsChecked: 0,
    eventsLost: 0,
    duplicates: 0,
    deadlineMisses: 0,
    seconds: 0,
    violations: [],
  };
  const tracks: Track[] = [];
  let server = await startServerProcess(port, dataDir, serverLog);
  // the first sign-in's token is stored: it stays valid across every restart
  const { url, token } = server;

  const api = async <T>(method: string, p: string, body?: unknown): Promise<{ status: number; body: T }> => {
    let last: unknown = null;
    // a keep-alive connection to a killed process fails on first use; a restart may be under way
    for (let attempt = 0; attempt < 40; attempt++) {
      try {
        const res = await fetch(`${url}${p}`, {
          method,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
      } catch (err) {
        last = err;
        await sleep(250);
      }
    }
    throw new Error(`chaos: ${method} ${p} failed: ${(last as Error)?.message}`);
  };

  /** SIGKILL, down for up to 1 s, started again; one in four is killed again while it boots (reconcile, migrations). */
  const restartServer = async (): Promise<string> => {
    await killProcess(server.p);
    result.serverKills++;
    await sleep(between(0, 1000));
    let note = "";
    if (rng() < 0.25) {
      const booting = spawnServer(port, dataDir, serverLog);
      booting.listening.catch(() => {});
      const after = between(200, 2500);
      const up = await Promise.race([booting.listening.then(() => true), sleep(after).then(() => false)]).catch(
        () => false,
      );
      await killProcess(booting.p);
      result.serverKills++;
      note = up
        ? ` (killed again ${after.toFixed(0)} ms after it listened)`
        : ` (killed again while booting, at ${after.toFixed(0)} ms)`;
    }
    // a port taken meanwhile by another test's server started on port 0 is the only expected failure: retry a little
    for (let attempt = 1; ; attempt++) {
      try {
        server = await startServerProcess(port, dataDir, serverLog);
        return note;
      } catch (err) {
        if (attempt >= 3) throw err;
        await sleep(1000);
      }
    }
  };

  /** SIGKILL of the agent process of one instance (its recipes are left orphaned, as on a machine whose agent died). */
  const killAgent = async (runId: string, instance: string): Promise<boolean> => {
    const hostDir = path.join(dataDir, "instances", runId, instance);
    const agents = (await instanceProcesses(hostDir)).filter((pid) => cmdline(pid).includes("agent.mjs"));
    for (const pid of agents) signal(pid, "SIGKILL");
    return agents.length > 0;
  };

  const names = Array.from({ length: opts.multiplicity }, (_, i) => `w.${i + 1}`);
  // any agent, also one that has not connected yet (run-rules S4b); CHAOS_LATE_AGENT_KILLS=1 only those that have
  const early = process.env.CHAOS_LATE_AGENT_KILLS !== "1";
  const isUp = (e: RunEvent, instance: string) =>
    e.body.type === "instance" && e.body.instance === instance && e.body.status === "up";
  const batchSeconds: number[] = [];
  let finished = false;
  try {
    const imported = await api("POST", "/api/modules/import", {
      files: [
        { path: "chaos/writer", yaml: IMAGE(opts.keys, ackDir) },
        {
          path: "chaos/system",
          yaml: `kind: deployment\nnodes:\n  w: { image: writer, multiplicity: ${opts.multiplicity} }\n`,
        },
      ],
    });
    if (imported.status !== 200) throw new Error(`chaos: import failed: ${JSON.stringify(imported.body)}`);

    for (let b = 0; b < opts.batches; b++) {
      // bounded: no batch is started that would likely end past the budget (a loaded machine runs fewer)
      const slowest = Math.max(0, ...batchSeconds) * 1000;
      if (b > 0 && Date.now() - t0 + slowest > opts.budgetMs) {
        log(`${b} batches of ${opts.batches}: the next would end past the ${opts.budgetMs / 1000} s budget`);
        break;
      }
      const batch: Track[] = [];
      for (let r = 0; r < opts.runsPerBatch; r++) {
        const created = await api<RunDetail>("POST", "/api/runs", {
          module: "chaos/system",
          keepRunning: "never",
          lostAfterSeconds: opts.lostAfterSeconds,
        });
        if (created.status !== 201) throw new Error(`chaos: run not created: ${JSON.stringify(created.body)}`);
        const t: Track = {
          id: created.body.id,
          batch: b,
          launchedAt: Date.now(),
          watcher: new RunWatcher(url, token, created.body.id),
          final: null,
          endedAfterMs: null,
        };
        batch.push(t);
        tracks.push(t);
      }
      result.runs += batch.length;
      const ended = Promise.all(
        batch.map((t) =>
          t.watcher.ended().then((e) => {
            t.final = e.body.type === "state" ? e.body.to : "?";
            t.endedAfterMs = Date.now() - t.launchedAt;
          }),
        ),
      );
      let allEnded = false;
      void ended.then(() => {
        allEnded = true;
      });
      const batchStart = Date.now();
      while (!allEnded && Date.now() - batchStart < opts.chaosWindowMs) {
        await Promise.race([sleep(between(300, 2500)), ended]);
        if (allEnded) break;
        const dice = rng();
        if (dice < 0.4) {
          const at = Date.now() - batchStart;
          const note = await restartServer();
          log(
            `batch ${b + 1}: server killed at +${(at / 1000).toFixed(1)} s, back after ${Date.now() - batchStart - at} ms${note}`,
          );
        } else if (dice < 0.75) {
          // any agent of a run still going; with CHAOS_LATE_AGENT_KILLS=1 only one that has said hello
          const candidates = batch.flatMap((t) =>
            t.final === null
              ? names
                  .filter((n) => early || t.watcher.events.some((e) => isUp(e, n)))
                  .map((instance) => ({ t, instance }))
              : [],
          );
          if (candidates.length === 0) continue;
          const { t, instance } = candidates[Math.floor(rng() * candidates.length)];
          if (await killAgent(t.id, instance)) {
            result.agentKills++;
            log(
              `batch ${b + 1}: agent of ${instance} in run ${t.id.slice(0, 8)} killed at +${((Date.now() - batchStart) / 1000).toFixed(1)} s`,
            );
          }
        }
      }
      // no more chaos in this batch: each run must end by its deadline
      const last = Math.max(...batch.map((t) => t.launchedAt)) + opts.runDeadlineMs;
      await Promise.race([ended, sleep(Math.max(0, last - Date.now()))]);
      for (const t of batch) {
        if (t.final !== null) continue;
        const detail = (await api<RunDetail>("GET", `/api/runs/${t.id}`)).body;
        result.deadlineMisses++;
        result.violations.push(
          `run ${t.id} (batch ${b + 1}) still ${detail.state} ${opts.runDeadlineMs / 1000} s after launch`,
        );
        await api("POST", `/api/runs/${t.id}/terminate`);
      }
      batchSeconds.push((Date.now() - batchStart) / 1000);
      log(
        `batch ${b + 1}: ${batch.map((t) => `${t.final ?? "stuck"} in ${((t.endedAfterMs ?? 0) / 1000).toFixed(1)} s`).join(", ")}`,
      );
    }

    // the invariants, on the server as it is now (it has been killed and restarted result.serverKills times)
    for (const t of tracks) {
      const detail = (await api<RunDetail>("GET", `/api/runs/${t.id}`)).body;
      if (t.final !== null) result.outcomes[detail.state] = (result.outcomes[detail.state] ?? 0) + 1;
      if (t.final !== null && t.final !== detail.state) {
        result.violations.push(`run ${t.id}: its watcher saw it end ${t.final}, it is now ${detail.state}`);
      }
      const events: RunEvent[] = [];
      let lastSeq = 0;
      for (let since = 0; ; ) {
        const page = (
          await api<{ events: RunEvent[]; lastSeq: number }>(
            "GET",
            `/api/runs/${t.id}/events?since=${since}&limit=10000`,
          )
        ).body;
        events.push(...page.events);
        lastSeq = page.lastSeq;
        if (page.events.length === 0 || page.events.at(-1)!.seq >= page.lastSeq) break;
        since = page.events.at(-1)!.seq;
      }
      result.eventsChecked += events.length;
      const seqs = events.map((e) => e.seq);
      const unique = new Set(seqs);
      const dupSeqs = seqs.length - unique.size;
      const maxSeq = Math.max(lastSeq, ...seqs);
      const gaps = maxSeq - unique.size;
      if (dupSeqs) result.violations.push(`run ${t.id}: ${dupSeqs} sequence numbers stored twice`);
      if (gaps) result.violations.push(`run ${t.id}: ${gaps} sequence numbers missing from 1..${maxSeq}`);
      result.duplicates += dupSeqs;
      result.eventsLost += gaps;
      // what a browser following the run live across every restart received: the same, in order (events stored
      // just now, after the run ended, may still be on their way)
      await Promise.race([t.watcher.until((e) => e.seq >= maxSeq), sleep(5000)]);
      const live = t.watcher.events.map((e) => e.seq);
      const liveSet = new Set(live);
      const unseen = [...unique].filter((s) => !liveSet.has(s)).length;
      const ordered = live.every((s, i) => i === 0 || s > live[i - 1]);
      if (unseen) result.violations.push(`run ${t.id}: ${unseen} stored events never reached its watcher`);
      if (!ordered) result.violations.push(`run ${t.id}: its watcher received events out of order`);
      result.eventsLost += unseen;
      result.instancesLost += events.filter((e) => e.body.type === "instance" && e.body.status === "lost").length;

      const params = (await api<{ params: { key: string; value: string | null }[] }>("GET", `/api/runs/${t.id}/params`))
        .body.params;
      const value = new Map(params.map((p) => [p.key, p.value]));
      const writes = new Map<string, number>();
      for (const e of events) {
        if (e.body.type === "param" && /^w\.\d+:k\d+$/.test(e.body.key)) {
          writes.set(e.body.key, (writes.get(e.body.key) ?? 0) + 1);
        }
      }
      for (const [key, n] of writes) {
        if (n > 1) {
          result.duplicates += n - 1;
          result.violations.push(`run ${t.id}: ${key} written ${n} times`);
        }
      }
      for (const instance of names) {
        const acked = await fs
          .readFile(path.join(ackDir, `${t.id}.${instance}`), "utf8")
          .then((s) => s.split("\n").filter(Boolean))
          .catch(() => [] as string[]);
        for (const k of acked) {
          const key = `${instance}:${k}`;
          const want = `${instance}/${k.slice(1)}`;
          result.ackedWrites++;
          if (value.get(key) !== want || (writes.get(key) ?? 0) < 1) {
            result.ackedMissing++;
            result.violations.push(
              `run ${t.id}: acknowledged ${key}=${want} stored as ${JSON.stringify(value.get(key) ?? null)}`,
            );
          }
        }
      }
    }
    finished = true;
  } finally {
    for (const t of tracks) t.watcher.close();
    await killProcess(server.p).catch(() => {});
    // every agent and recipe this chaos started, by the marker in their environment (never by name: other tests
    // run beside this one)
    const hostDirs: string[] = [];
    for (const run of await fs.readdir(path.join(dataDir, "instances")).catch(() => [] as string[])) {
      for (const inst of await fs.readdir(path.join(dataDir, "instances", run)).catch(() => [] as string[])) {
        hostDirs.push(path.join(dataDir, "instances", run, inst));
      }
    }
    for (const t of tracks) for (const n of names) hostDirs.push(path.join(dataDir, "instances", t.id, n));
    const left = (await Promise.all([...new Set(hostDirs)].map(instanceProcesses))).flat();
    for (const pid of left) signal(pid, "SIGKILL");
    await waitGone(left, 5000);
    result.seconds = (Date.now() - t0) / 1000;
    // kept where something was wrong: the server's log and its database are evidence
    if (process.env.CHAOS_KEEP === "1" || result.violations.length > 0 || !finished) {
      log(`data, acknowledged writes and the server's log kept in ${root}`);
    } else {
      await fs.rm(root, { recursive: true, force: true });
    }
  }
  return result;
}

/** One line of counts, for the test summary and the logs. */
export function chaosLine(r: ChaosResult): string {
  const outcomes = Object.entries(r.outcomes)
    .map(([s, n]) => `${n} ${s}`)
    .join(", ");
  return (
    `seed ${r.seed}: ${r.runs} runs (${outcomes || "none ended"}), ${r.serverKills} server kills survived, ` +
    `${r.agentKills} agent kills (${r.instancesLost} instances lost), ${r.ackedWrites} acknowledged writes checked ` +
    `(${r.ackedMissing} missing), ${r.eventsChecked} events checked, events lost ${r.eventsLost}, ` +
    `duplicates ${r.duplicates}, deadline misses ${r.deadlineMisses}, ${r.seconds.toFixed(0)} s`
  );
}
