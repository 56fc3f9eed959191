import { readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Pids of every process whose environment holds `entry` (e.g. `SLIPSTREAM_LOCAL_INSTANCE=/…/client.1`).
 * Recipes run in their own sessions and may leave daemons reparented to init, so the agent's process
 * group is not enough; the inherited environment still marks them. Null where there is no /proc.
 */
export async function processesWithEnv(entry: string): Promise<number[] | null> {
  let names: string[];
  try {
    names = await readdir("/proc");
  } catch {
    return null;
  }
  const needle = Buffer.from(`\0${entry}\0`);
  const head = Buffer.from(`${entry}\0`);
  const found: number[] = [];
  await Promise.all(
    names
      .filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid)
      .map(async (n) => {
        try {
          const env = await readFile(`/proc/${n}/environ`);
          if (env.includes(needle) || env.subarray(0, head.length).equals(head)) found.push(Number(n));
        } catch {
          // gone, or another user's
        }
      }),
  );
  return found;
}

export function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A killed orphan stays a zombie until init reaps it, which can lag: it counts as gone. */
function exists(pid: number): boolean {
  if (!signal(pid, 0)) return false;
  if (pid < 0) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return true;
  }
}

/**
 * Waits until none of `pids` (negative = a process group) exists, up to `ms`. Processes that are not
 * our children have no exit event to wait on, so this checks at growing intervals; it is bounded.
 */
export async function waitGone(pids: number[], ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
    if (!pids.some(exists)) return true;
    if (Date.now() >= end) return false;
    await sleep(Math.min(delay, Math.max(1, end - Date.now())));
  }
}
