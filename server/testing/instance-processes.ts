import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { processesWithEnv } from "../connectors/process-tree.js";

/** What tests of the local cloud see of an instance's processes from outside (by its host directory's tag). */

export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Test-side wait for something an agent or its host does on its own, which no event tells the test of: `check` until
 * it gives a value (a throw counts as not yet).
 */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, ms = 20_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Host pids of an instance's processes whose command line is `argv` (recipes' pids inside a machine are its own). */
export async function instancePids(hostDir: string, argv: string[]): Promise<number[]> {
  const out: number[] = [];
  for (const pid of (await processesWithEnv(`SLIPSTREAM_LOCAL_INSTANCE=${hostDir}`)) ?? []) {
    const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmd === `${argv.join("\0")}\0`) out.push(pid);
  }
  return out;
}
