import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { processesWithEnv } from "./process-tree.js";

const TAG = "PROCESS_TREE_TEST";
const started: ChildProcess[] = [];

/** A real process (`sleep`) with exactly `env` as its environment, in that order. */
async function tagged(env: Record<string, string>): Promise<number> {
  const child = spawn("sleep", ["30"], { env: env as NodeJS.ProcessEnv, stdio: "ignore" });
  started.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  return child.pid as number;
}

/** read syscalls this process made so far, its thread pool's included */
const readCalls = () => Number(/^syscr:\s+(\d+)/m.exec(readFileSync("/proc/self/io", "utf8"))?.[1]);

afterEach(() => {
  for (const c of started.splice(0)) c.kill("SIGKILL");
});

describe("processesWithEnv", () => {
  const run = `${process.pid}-${Date.now()}`;
  const path = process.env.PATH ?? "/usr/bin:/bin";

  it("finds a tag wherever it is in the environment, and only an exact one", async () => {
    const first = await tagged({ [TAG]: `/i/${run}/a`, PATH: path });
    // far past the first read buffer (16 KiB): the tag comes after 100 KB of another variable
    const late = await tagged({ PATH: path, BIG: "x".repeat(100_000), [TAG]: `/i/${run}/a` });
    const other = await tagged({ PATH: path, [TAG]: `/i/${run}/a/b` });
    const prefixOnly = await tagged({ PATH: path, [`X${TAG}`]: `/i/${run}/a` });
    const found = await processesWithEnv(`${TAG}=/i/${run}/a`);
    expect(found?.sort()).toEqual([first, late].sort());
    expect(found).not.toContain(other);
    expect(found).not.toContain(prefixOnly);
    expect(await processesWithEnv(`${TAG}=/i/${run}/a/b`)).toEqual([other]);
    expect(await processesWithEnv(`${TAG}=/i/${run}/none`)).toEqual([]);
  });

  it("answers many callers at once with one pass over /proc, each its own processes", async () => {
    const n = 200;
    const pids = await Promise.all(
      Array.from({ length: 20 }, (_, i) => tagged({ PATH: path, [TAG]: `/i/${run}/c.${i}` })),
    );
    const processes = readFileSync("/proc/loadavg", "utf8").split(" ")[3].split("/")[1];
    const before = readCalls();
    const answers = await Promise.all(Array.from({ length: n }, (_, i) => processesWithEnv(`${TAG}=/i/${run}/c.${i}`)));
    const reads = readCalls() - before;
    for (let i = 0; i < n; i++) expect(answers[i], `c.${i}`).toEqual(i < pids.length ? [pids[i]] : []);
    // a pass reads each environ about twice (its bytes, then end of file): a pass per caller would be ~200 times that
    expect(reads, `${reads} reads for ${processes} processes`).toBeLessThan(10 * Number(processes) + 1000);
  });

  it("sees a process started while an earlier pass was under way", async () => {
    const earlier = processesWithEnv(`${TAG}=/i/${run}/late`);
    const pid = await tagged({ PATH: path, [TAG]: `/i/${run}/late` });
    const later = processesWithEnv(`${TAG}=/i/${run}/late`);
    await earlier;
    expect(await later).toEqual([pid]);
  });
});
