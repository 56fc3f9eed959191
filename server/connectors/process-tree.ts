import { readFileSync } from "node:fs";
import { open, readdir } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

/** environ files read at once by one pass: enough to keep the thread pool busy, each with a buffer of its own */
const READERS = 8;
const FIRST_BUFFER = 16 * 1024;

interface Wanted {
  entry: string;
  resolve: (pids: number[] | null) => void;
  reject: (err: unknown) => void;
}
let queued: Wanted[] = [];
let passing = false;

/**
 * Pids of every process whose environment holds `entry` (e.g. `SLIPSTREAM_LOCAL_INSTANCE=/…/client.1`).
 * Recipes run in their own sessions and may leave daemons reparented to init, so the agent's process
 * group is not enough; the inherited environment still marks them. Null where there is no /proc.
 *
 * A run's end stops every instance at once, and each stop asks: one pass over /proc answers every caller queued
 * before it lists /proc (a caller arriving during a pass waits for the next, which sees processes started since),
 * reading each environ once into a few reused buffers. A pass per caller, each reading every environ with a
 * 64 KiB buffer (fs.readFile's for /proc files), took ~1 GB of buffers at 200 instances.
 */
export function processesWithEnv(entry: string): Promise<number[] | null> {
  return new Promise((resolve, reject) => {
    queued.push({ entry, resolve, reject });
    if (!passing) void passes();
  });
}

async function passes(): Promise<void> {
  passing = true;
  try {
    while (queued.length > 0) {
      const batch = queued;
      queued = [];
      try {
        const found = await scanProc(batch.map((w) => w.entry));
        for (const [i, w] of batch.entries()) w.resolve(found?.[i] ?? null);
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
  } finally {
    passing = false;
  }
}

/** For each entry, the pids whose environment has it as one of its `\0`-separated strings; null: no /proc. */
async function scanProc(entries: string[]): Promise<number[][] | null> {
  let names: string[];
  try {
    names = await readdir("/proc");
  } catch {
    return null;
  }
  const found = entries.map((): number[] => []);
  // entry → the callers that asked for it; looked up by the name before `=`, the only search made in each environ
  const byEntry = new Map<string, number[]>();
  for (const [i, e] of entries.entries()) byEntry.set(e, [...(byEntry.get(e) ?? []), i]);
  const names0 = [...new Set(entries.map((e) => e.slice(0, e.includes("=") ? e.indexOf("=") : e.length)))].map((n) =>
    Buffer.from(n),
  );
  const pids = names.filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid);
  let next = 0;
  const reader = async () => {
    let buf: Buffer = Buffer.allocUnsafe(FIRST_BUFFER);
    for (let i = next++; i < pids.length; i = next++) {
      let len: number;
      try {
        ({ buf, len } = await readAll(`/proc/${pids[i]}/environ`, buf));
      } catch {
        continue; // gone, or another user's
      }
      const env = buf.subarray(0, len);
      for (const name of names0) {
        for (let at = env.indexOf(name); at !== -1; at = env.indexOf(name, at + 1)) {
          if (at > 0 && env[at - 1] !== 0) continue;
          const end = env.indexOf(0, at);
          const callers = byEntry.get(env.toString("utf8", at, end === -1 ? env.length : end));
          // a variable set twice in one environment still names its process once
          for (const c of callers ?? []) if (found[c].at(-1) !== Number(pids[i])) found[c].push(Number(pids[i]));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(READERS, pids.length) }, reader));
  return found;
}

/** The whole file into `buf` (a bigger one when it does not fit: /proc files have no size to ask for). */
async function readAll(file: string, buf: Buffer): Promise<{ buf: Buffer; len: number }> {
  const fh = await open(file, "r");
  try {
    let len = 0;
    for (;;) {
      if (len === buf.length) {
        const bigger: Buffer = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, len);
        buf = bigger;
      }
      const { bytesRead } = await fh.read(buf, len, buf.length - len, len);
      if (bytesRead === 0) return { buf, len };
      len += bytesRead;
    }
  } finally {
    await fh.close();
  }
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
