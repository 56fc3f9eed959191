/**
 * Profiling aid (not part of `npm run bench`): what a local agent really costs in memory. Launches 1 server node +
 * N client nodes on the local cloud (kept in Ready), then reads /proc/<pid>/smaps_rollup of every process of every
 * instance: RSS counts the pages an agent shares with the others (Node's own code) once per agent, PSS splits them
 * among their users, USS (private pages) is what one more agent adds. An idle `node` is measured the same way.
 *
 *   node --import tsx bench/agent-memory.ts [N=100]
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { RunDetail } from "../protocol/run.js";
import { RunWatcher } from "../server/testing/watch.js";
import { sleep } from "./lib.js";
import { pushModules, startChildServer } from "./local-runs.js";

interface Memory {
  rss: number;
  pss: number;
  uss: number;
  anon: number;
  file: number;
}

/** smaps_rollup of a process, in MB: USS = its private pages, file = its file-backed resident pages. */
export function memoryOf(pid: number): Memory | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const st = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
    return {
      rss: kb("Rss") / 1024,
      pss: kb("Pss") / 1024,
      uss: (kb("Private_Clean") + kb("Private_Dirty")) / 1024,
      anon: st("RssAnon") / 1024,
      file: st("RssFile") / 1024,
    };
  } catch {
    return null;
  }
}

/** Every process of the local instances of this data directory (agents, their sandboxes, shells), by instance. */
function instanceProcesses(dataDir: string): Map<string, { pid: number; agent: boolean; comm: string }[]> {
  const root = path.join(dataDir, "instances");
  const tag = Buffer.from(`SLIPSTREAM_LOCAL_INSTANCE=${root}/`);
  const byInstance = new Map<string, { pid: number; agent: boolean; comm: string }[]>();
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const env = fs.readFileSync(`/proc/${d}/environ`);
      const at = env.indexOf(tag);
      if (at < 0) continue;
      const end = env.indexOf(0, at);
      const instance = env.subarray(at + tag.length, end < 0 ? undefined : end).toString();
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
      const comm = fs.readFileSync(`/proc/${d}/comm`, "utf8").trim();
      // node [flags] …/agent.mjs
      const agent = cmd[0]?.endsWith("node") === true && cmd.some((a) => a.endsWith("/agent.mjs"));
      const list = byInstance.get(instance) ?? [];
      list.push({ pid: Number(d), agent, comm });
      byInstance.set(instance, list);
    } catch {}
  }
  return byInstance;
}

const sum = (xs: Memory[], k: keyof Memory) => xs.reduce((a, m) => a + m[k], 0);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const f = (x: number) => x.toFixed(1);

/** An idle Node process (a timer keeps it up), for Node's own share. */
async function idleNode(args: string[]): Promise<Memory> {
  const child = spawn(process.execPath, [...args, "-e", "setInterval(() => {}, 1e6)"], { stdio: "ignore" });
  await sleep(500);
  const m = memoryOf(child.pid!);
  child.kill("SIGKILL");
  if (!m) throw new Error("idle node: no smaps_rollup");
  return m;
}

const clients = Number(process.argv[2] ?? 100);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ss-mem-"));
const s = await startChildServer(dataDir, false);
try {
  await pushModules(s);
  const created = await s.api<RunDetail>("POST", "/api/runs", {
    module: "bench/scale",
    multiplicity: { client: clients },
    keepRunning: "always",
  });
  if (created.status !== 201) throw new Error(`run creation failed: ${JSON.stringify(created.body)}`);
  const w = new RunWatcher(s.url, s.token, created.body.id);
  try {
    await w.state("Ready");
    // the agents settle (their start-up garbage collected) while the run is kept
    await sleep(3000);
    const procs = instanceProcesses(dataDir);
    const agents: Memory[] = [];
    const whole: Memory[] = [];
    const others = new Map<string, number>();
    for (const list of procs.values()) {
      const mems = list.map((p) => ({ p, m: memoryOf(p.pid) })).filter((x) => x.m !== null);
      for (const { p, m } of mems) {
        if (p.agent) agents.push(m!);
        else others.set(p.comm, (others.get(p.comm) ?? 0) + m!.pss);
      }
      const ms = mems.map((x) => x.m!);
      whole.push({
        rss: sum(ms, "rss"),
        pss: sum(ms, "pss"),
        uss: sum(ms, "uss"),
        anon: sum(ms, "anon"),
        file: sum(ms, "file"),
      });
    }
    const idle = await idleNode([]);
    const report = {
      instances: procs.size,
      agents: agents.length,
      agentMedianMb: {
        rss: median(agents.map((m) => m.rss)),
        pss: median(agents.map((m) => m.pss)),
        uss: median(agents.map((m) => m.uss)),
        anon: median(agents.map((m) => m.anon)),
        file: median(agents.map((m) => m.file)),
      },
      agentsTotalMb: { rss: sum(agents, "rss"), pss: sum(agents, "pss"), uss: sum(agents, "uss") },
      instanceMedianMb: { pss: median(whole.map((m) => m.pss)), uss: median(whole.map((m) => m.uss)) },
      otherProcessesPssMb: Object.fromEntries([...others].map(([k, v]) => [k, Number(f(v))])),
      idleNodeMb: idle,
    };
    console.log(JSON.stringify(report, null, 2));
  } finally {
    w.close();
    await s.api("POST", `/api/runs/${created.body.id}/terminate`);
    const end = new RunWatcher(s.url, s.token, created.body.id);
    await end.ended();
    end.close();
  }
} finally {
  await s.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);
