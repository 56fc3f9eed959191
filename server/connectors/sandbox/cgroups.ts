import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { readFile, rmdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface InstanceLimits {
  /** bytes of memory (RAM + tmpfs) the instance's processes may use together */
  memoryBytes: number;
  /** processes and threads the instance may have at once */
  pids: number;
}

const ROOT = "/sys/fs/cgroup";
const GROUP = "slipstream";

/**
 * One control group per local instance (the agent, its machine and everything its recipes start), with memory and
 * process-count limits: cgroup v2 where the machine has it, else the v1 memory and pids hierarchies. Needs root.
 */
/** The name of one instance's group(s). */
export const cgroupKey = (runId: string, instance: string) => `${runId}_${instance}`;

export class InstanceCgroups {
  private constructor(
    readonly version: 1 | 2,
    /** per hierarchy, the directory instance groups are made in */
    private readonly parents: string[],
  ) {}

  static detect(): InstanceCgroups | null {
    if (process.getuid?.() !== 0) return null;
    try {
      const controllers = path.join(ROOT, "cgroup.controllers");
      if (existsSync(controllers)) {
        const have = readFileSync(controllers, "utf8").split(/\s+/);
        if (!have.includes("memory") || !have.includes("pids")) return null;
        const parent = path.join(ROOT, GROUP);
        mkdirSync(parent, { recursive: true });
        writeFileSync(path.join(ROOT, "cgroup.subtree_control"), "+memory +pids");
        writeFileSync(path.join(parent, "cgroup.subtree_control"), "+memory +pids");
        return new InstanceCgroups(2, [parent]);
      }
      const v1 = ["memory", "pids"].map((c) => path.join(ROOT, c));
      if (!v1.every((d) => existsSync(path.join(d, "cgroup.procs")))) return null;
      const parents = v1.map((d) => path.join(d, GROUP));
      for (const p of parents) mkdirSync(p, { recursive: true });
      return new InstanceCgroups(1, parents);
    } catch {
      return null;
    }
  }

  private dirs(key: string): string[] {
    return this.parents.map((p) => path.join(p, key));
  }

  /** Makes the instance's group(s) with its limits; returns the cgroup.procs files its first process joins. */
  async create(key: string, limits: InstanceLimits): Promise<string[]> {
    const [first, second] = this.dirs(key);
    for (const d of this.dirs(key)) mkdirSync(d, { recursive: true });
    if (this.version === 2) {
      await writeFile(path.join(first, "memory.max"), String(limits.memoryBytes));
      await writeFile(path.join(first, "memory.swap.max"), "0").catch(() => undefined);
      await writeFile(path.join(first, "pids.max"), String(limits.pids));
    } else {
      await writeFile(path.join(first, "memory.limit_in_bytes"), String(limits.memoryBytes));
      await writeFile(path.join(second, "pids.max"), String(limits.pids));
    }
    return this.dirs(key).map((d) => path.join(d, "cgroup.procs"));
  }

  /** Kills every process of the instance, wherever it went (its own session, reparented to init). */
  async kill(key: string): Promise<void> {
    const dirs = this.dirs(key).filter((d) => existsSync(d));
    if (dirs.length === 0) return;
    const killFile = path.join(dirs[0], "cgroup.kill");
    if (this.version === 2 && existsSync(killFile)) await writeFile(killFile, "1").catch(() => undefined);
    for (let round = 0; round < 100; round++) {
      const pids = new Set<number>();
      for (const d of dirs) {
        const text = await readFile(path.join(d, "cgroup.procs"), "utf8").catch(() => "");
        for (const p of text.split("\n").filter(Boolean)) pids.add(Number(p));
      }
      if (pids.size === 0) return;
      for (const p of pids) {
        try {
          process.kill(p, "SIGKILL");
        } catch {
          // gone
        }
      }
      await sleep(20);
    }
  }

  async remove(key: string): Promise<void> {
    for (const d of this.dirs(key)) {
      for (let i = 0; i < 50 && existsSync(d); i++) {
        // a killed process leaves its group once reaped
        if (
          await rmdir(d).then(
            () => true,
            () => false,
          )
        )
          break;
        await sleep(20);
      }
    }
  }

  describe(limits: InstanceLimits): string {
    return `memory ${Math.round(limits.memoryBytes / 2 ** 20)} MiB and ${limits.pids} processes per instance (cgroup v${this.version})`;
  }
}
