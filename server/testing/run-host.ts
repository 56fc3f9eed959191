import { existsSync } from "node:fs";
import { readdir, readFile, readlink } from "node:fs/promises";
import path from "node:path";
import { hostSocketPath } from "../connectors/local-host.js";
import { processesWithEnv } from "../connectors/process-tree.js";

/** What tests of the local cloud's per-run agent host (agent/host.ts) look at from outside it. */

/** The run's hosts: Node processes running host.mjs in the run's directory (their cwd). */
export async function hostPids(runDir: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => "");
    if (cwd !== runDir) continue;
    const cmd = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmd.split("\0").some((a) => a.endsWith("host.mjs"))) found.push(Number(entry));
  }
  return found;
}

/** The cgroup directories the local cloud makes for an instance (sandbox/cgroups.ts), v2 or v1. */
const cgroupDirs = (key: string) =>
  ["/sys/fs/cgroup/slipstream", "/sys/fs/cgroup/memory/slipstream", "/sys/fs/cgroup/pids/slipstream"].map((p) =>
    path.join(p, key),
  );

const tagged = async (hostDir: string) => (await processesWithEnv(`SLIPSTREAM_LOCAL_INSTANCE=${hostDir}`)) ?? [];

/** A run's instances while they run: their machines' processes and network namespaces, to check for afterwards. */
export interface RunFootprint {
  runId: string;
  runDir: string;
  processes: Map<string, number[]>;
  netns: string[];
}

export async function footprint(dataDir: string, runId: string, instances: string[]): Promise<RunFootprint> {
  const runDir = path.join(dataDir, "instances", runId);
  const processes = new Map<string, number[]>();
  const netns: string[] = [];
  for (const i of instances) {
    processes.set(i, await tagged(path.join(runDir, i)));
    const ns = await readFile(path.join(runDir, i, "netns"), "utf8").catch(() => null);
    if (ns) netns.push(ns.trim());
  }
  return { runId, runDir, processes, netns };
}

/**
 * A process that has not ended. A zombie has: what the host started and outlived it (a host killed) goes to init,
 * which reaps it in its own time.
 */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  return stat !== null && stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}

/** Everything of the run still there after its instances were stopped (empty: nothing left). */
export async function leftovers(f: RunFootprint): Promise<string[]> {
  const left: string[] = [];
  for (const [i, pids] of f.processes) {
    for (const p of new Set([...pids, ...(await tagged(path.join(f.runDir, i)))])) {
      if (await running(p)) left.push(`process ${p} of ${i}`);
    }
    for (const d of cgroupDirs(`${f.runId}_${i}`)) if (existsSync(d)) left.push(`cgroup ${d}`);
  }
  for (const n of f.netns) if (existsSync(`/run/netns/${n}`)) left.push(`network namespace ${n}`);
  const socket = hostSocketPath(f.runDir);
  if (existsSync(socket)) left.push(`the host's control socket ${socket}`);
  if (existsSync(f.runDir)) left.push(`the run's directory, holding ${(await readdir(f.runDir)).join(", ")}`);
  return left;
}

/**
 * The processes that speak for a run's instances to the server: its agent host, or, where the local cloud runs a
 * Node agent per instance (unsandboxed, or SLIPSTREAM_LOCAL_AGENTS=per-instance), each instance's agent (not the
 * sandbox around it, which has the same command line at its end).
 */
export async function runAgentPids(runDir: string, instances: string[]): Promise<number[]> {
  const hosts = await hostPids(runDir);
  if (hosts.length > 0) return hosts;
  const agents: number[] = [];
  for (const i of instances) {
    for (const pid of await tagged(path.join(runDir, i))) {
      const cmd = (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).split("\0");
      if (cmd[0].endsWith("node") && cmd.some((a) => a.endsWith("agent.mjs"))) agents.push(pid);
    }
  }
  return agents;
}
