import { readdirSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { afterAll } from "vitest";
import { testDataDirs } from "./data-dirs.js";
import { removeDataDir } from "./remove-data-dir.js";
import { testTempDirs } from "./temp-dirs.js";

/**
 * After each test file: any process still running from one of its servers' data directories (a local agent: its
 * program is `<data dir>/agent/agent.mjs`, or in a sandbox its environment names `<data dir>/instances/…`) is killed. A test that closes its server without stopping its machines
 * would otherwise leave agents reconnecting for the rest of the suite; each is named on stderr, so the leak is seen.
 * Then each directory goes, with what its instances held on the machine (remove-data-dir.ts).
 */
afterAll(async () => {
  // report downloads, CLI configuration directories, stand-alone databases: nothing of them is needed after the file
  for (const dir of testTempDirs) await rm(dir, { recursive: true, force: true });
  testTempDirs.clear();
  if (testDataDirs.size === 0) return;
  const dirs = [...testDataDirs].map((d) => `${d}/`);
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let cmdline: string;
    let environ: string;
    try {
      cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8").replaceAll("\0", " ");
      // a sandboxed agent sees its files through bind mounts: its environment still names its instance's directory
      environ = readFileSync(`/proc/${name}/environ`, "utf8");
    } catch {
      continue;
    }
    if (!dirs.some((d) => cmdline.includes(d) || environ.includes(d))) continue;
    try {
      process.kill(Number(name), "SIGKILL");
      process.stderr.write(`reaped a process left by this file's servers: ${name} ${cmdline.slice(0, 200)}\n`);
    } catch {
      // it ended meanwhile
    }
  }
  // then what their instances held on the machine, and the directories themselves
  for (const dir of testDataDirs) await removeDataDir(dir);
  testDataDirs.clear();
});
