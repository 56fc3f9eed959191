/**
 * Profiling aid (not part of `npm run bench`): what a local agent really costs in memory. Launches 1 server node +
 * N client nodes on the local cloud (kept in Ready), then reads /proc/<pid>/smaps_rollup of every process of every
 * instance: RSS counts the pages an agent shares with the others (Node's own code) once per agent, PSS splits them
 * among their users, USS (private pages) is what one more agent adds. An idle `node` is measured the same way.
 *
 * With one agent host per run (SLIPSTREAM_LOCAL_AGENTS=per-run, agent/host.ts) the instances have no process of their
 * own but their machines: what one instance costs is then (the host's RSS + every machine process's RSS) / instances,
 * RSS summed as is (shared pages counted in each process), so no sharing flatters it.
 *
 *   node --import tsx bench/agent-memory.ts [N=100] [per-run|per-instance]
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { instanceMemory, instanceProcesses, type Memory, memoryOf, sum } from "./instance-memory.js";
import { sleep } from "./lib.js";
import { pushModules, startChildServer } from "./local-runs.js";
import { keptScaleRun } from "./memory-run.js";

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

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) await main();

async function main(): Promise<void> {
  const clients = Number(process.argv[2] ?? 100);
  if (process.argv[3]) process.env.SLIPSTREAM_LOCAL_AGENTS = process.argv[3];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ss-mem-"));
  const s = await startChildServer(dataDir, false);
  try {
    await pushModules(s);
    await keptScaleRun(s, clients, async (readyS) => {
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
        launchToReadyS: readyS,
        mode: process.env.SLIPSTREAM_LOCAL_AGENTS ?? "per-instance",
        perInstance: instanceMemory(dataDir, clients + 1),
      };
      console.log(JSON.stringify(report, null, 2));
    });
  } finally {
    await s.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  process.exit(0);
}
