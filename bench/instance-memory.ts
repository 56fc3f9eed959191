/**
 * What local instances take in memory, whichever way their agents run (a Node agent per instance, or one agent host
 * per run): read from /proc (smaps_rollup) for bench/agent-memory.ts and the scale figures of bench/local-runs.ts.
 */
import fs from "node:fs";
import path from "node:path";

export interface Memory {
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
export function instanceProcesses(dataDir: string): Map<string, { pid: number; agent: boolean; comm: string }[]> {
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

export const sum = (xs: Memory[], k: keyof Memory) => xs.reduce((a, m) => a + m[k], 0);
/** Pids of the run's agent hosts under this data directory (node …/host.mjs, started in instances/<run>). */
export function hostPids(dataDir: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
      if (!cmd.some((a) => a.endsWith("/host.mjs"))) continue;
      if (fs.readlinkSync(`/proc/${d}/cwd`).startsWith(path.join(dataDir, "instances"))) out.push(Number(d));
    } catch {}
  }
  return out;
}

/** Every descendant of `root` (its machines: bubblewraps, their shells and sleeps, recipes still running). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {}
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

export interface InstanceMemory {
  instances: number;
  /** agent processes (per-instance: one per instance; per-run: the runs' hosts) */
  agents: number;
  agentsRssMb: number;
  /** everything else of the instances: sandboxes, machines (bubblewraps, their sleeps), recipes still running */
  otherProcesses: number;
  otherRssMb: number;
  /** (agents' RSS + the other processes' RSS) / instances */
  perInstanceRssMb: number;
  /** the same with PSS (shared pages split among their users) */
  perInstancePssMb: number;
}

/**
 * What each local instance of the runs on `dataDir` costs, whichever way agents run: every process tagged with an
 * instance of this data directory (a per-instance agent's sandbox and agent), every run's host, and all their
 * descendants (the machines, whose processes carry no tag), RSS summed as is.
 */
export function instanceMemory(dataDir: string, instances: number): InstanceMemory {
  const tagged = [...instanceProcesses(dataDir).values()].flat().map((p) => p.pid);
  const hosts = hostPids(dataDir);
  const all = [...new Set([...tagged, ...hosts, ...[...tagged, ...hosts].flatMap(descendants)])];
  const agent = (pid: number) => {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      // the host's spawner (agent/spawner.ts) is part of the host
      const ours = (a: string) => a.endsWith("/agent.mjs") || a.endsWith("/host.mjs") || a.endsWith("/spawner.mjs");
      return cmd.some(ours) && cmd[0].endsWith("node");
    } catch {
      return false;
    }
  };
  const mems = all.map((pid) => ({ agent: agent(pid), m: memoryOf(pid) })).filter((x) => x.m !== null);
  const agents = mems.filter((x) => x.agent).map((x) => x.m as Memory);
  const others = mems.filter((x) => !x.agent).map((x) => x.m as Memory);
  return {
    instances,
    agents: agents.length,
    agentsRssMb: sum(agents, "rss"),
    otherProcesses: others.length,
    otherRssMb: sum(others, "rss"),
    perInstanceRssMb: (sum(agents, "rss") + sum(others, "rss")) / instances,
    perInstancePssMb: (sum(agents, "pss") + sum(others, "pss")) / instances,
  };
}
