import { readdirSync, readFileSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startCheckpointer } from "./checkpointer.js";
import { openDatabase } from "./open.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

/** This process's threads, by id. */
const threads = () => new Set(readdirSync("/proc/self/task"));
/** How often a thread has slept and been woken (Linux counts each voluntary context switch). */
function wakeups(tid: string): number {
  const status = readFileSync(`/proc/self/task/${tid}/status`, "utf8");
  return Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1]);
}

describe.runIf(process.platform === "linux")("the WAL checkpointer's thread under a stream of commits", () => {
  it("wakes once per pass, not once per WAL write", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-ckpt-wake-"));
    dirs.push(dir);
    const file = path.join(dir, "slipstream.db");
    const db = openDatabase(file);
    db.$client.exec("create table t (v text)");
    const before = threads();
    let passes = 0;
    const checkpointer = startCheckpointer(db.$client, file, (p) => {
      if (p.log !== undefined) passes++;
    });
    // the worker's thread is the one that appeared with it; let it start and take its first pass
    await new Promise((r) => setTimeout(r, 600));
    const started = [...threads()].filter((t) => !before.has(t));
    expect(started.length).toBeGreaterThan(0);
    const woken = () => started.reduce((n, t) => n + wakeups(t), 0);
    const w0 = woken();
    const insert = db.$client.prepare("insert into t values (?)");
    // 1 s of small commits, a few every millisecond, with the event loop turning between them
    const end = Date.now() + 1000;
    let commits = 0;
    while (Date.now() < end) {
      for (let i = 0; i < 5; i++) {
        insert.run(String(commits++));
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await new Promise((r) => setTimeout(r, 600));
    const w1 = woken();
    expect(commits).toBeGreaterThan(500);
    expect(passes).toBeGreaterThan(0);
    // a pass or two a second, each a few wake-ups (its timers, the notification that scheduled it, the checkpoint's own
    // I/O): tens in all (63 measured), where a wake-up per notification was thousands (4,086 measured)
    expect(w1 - w0).toBeLessThan(400);
    await checkpointer.stop();
    db.$client.close();
  });
});
