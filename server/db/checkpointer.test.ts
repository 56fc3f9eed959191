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

describe("WAL checkpoints off the event loop", () => {
  it("the main connection never checkpoints; the worker copies every committed frame back, and stops cleanly", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-ckpt-"));
    dirs.push(dir);
    const file = path.join(dir, "slipstream.db");
    const db = openDatabase(file);
    const passes: { checkpointed?: number; log?: number; error?: string }[] = [];
    let onFull: () => void = () => undefined;
    const full = new Promise<void>((resolve) => {
      onFull = resolve;
    });
    const checkpointer = startCheckpointer(db.$client, file, (p) => {
      passes.push(p);
      if (p.log !== undefined && p.log > 1000 && p.checkpointed === p.log) onFull();
    });
    expect(db.$client.pragma("wal_autocheckpoint", { simple: true })).toBe(0);
    db.$client.exec("create table filler (b blob)");
    const insert = db.$client.prepare("insert into filler values (randomblob(4000))");
    // ~3000 pages: SQLite's own checkpoint would have run inside the commit that crossed 1000
    for (let i = 0; i < 30; i++) db.$client.transaction(() => Array.from({ length: 100 }, () => insert.run()))();
    const walPages = (await fs.stat(`${file}-wal`)).size / 4096;
    expect(walPages).toBeGreaterThan(2900);
    await full;
    expect(passes.some((p) => p.error)).toBe(false);
    // woken by commits, not by a clock: an idle database costs the worker nothing (once the notifications of the
    // last commits, which may trail the pass that copied them, are spent)
    await new Promise((r) => setTimeout(r, 600));
    const seen = passes.length;
    await new Promise((r) => setTimeout(r, 1200));
    expect(passes.length).toBe(seen);
    db.$client.transaction(() => insert.run())();
    await new Promise((r) => setTimeout(r, 600));
    expect(passes.length).toBeGreaterThan(seen);
    await checkpointer.stop();
    db.$client.close();
    const again = openDatabase(file);
    expect(again.$client.prepare("select count(*) as n from filler").get()).toEqual({ n: 3001 });
    again.$client.close();
  });

  it("an in-memory database has nothing to checkpoint: no worker", async () => {
    const db = openDatabase(":memory:");
    const c = startCheckpointer(db.$client, ":memory:");
    expect(db.$client.pragma("wal_autocheckpoint", { simple: true })).toBe(1000);
    await c.stop();
    db.$client.close();
  });
});
