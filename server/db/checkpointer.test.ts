import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import {
  PASS_PAGES,
  type PassReport,
  QUIET_PASS_MS,
  startCheckpointer,
  WAL_BACKSTOP_BYTES,
  WAL_RESET_BYTES,
} from "./checkpointer.js";
import { openDatabase, WAL_FILE_LIMIT_BYTES } from "./open.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

describe("WAL checkpoints off the event loop", () => {
  it("the main connection checkpoints only past the backstop; the worker copies every committed frame back, and stops cleanly", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-ckpt-"));
    dirs.push(dir);
    const file = path.join(dir, "slipstream.db");
    const db = openDatabase(file);
    const passes: { checkpointed?: number; log?: number; error?: string }[] = [];
    let onFull: () => void = () => undefined;
    const full = new Promise<void>((resolve) => {
      onFull = resolve;
    });
    let onPass: () => void = () => undefined;
    const checkpointer = startCheckpointer(db.$client, file, (p) => {
      passes.push(p);
      onPass();
      if (p.log !== undefined && p.log > 1000 && p.checkpointed === p.log) onFull();
    });
    expect(db.$client.pragma("wal_autocheckpoint", { simple: true })).toBe(WAL_BACKSTOP_BYTES / 4096);
    db.$client.exec("create table filler (b blob)");
    const insert = db.$client.prepare("insert into filler values (randomblob(4000))");
    // ~3000 pages: SQLite's own checkpoint would have run inside the commit that crossed 1000
    for (let i = 0; i < 30; i++) db.$client.transaction(() => Array.from({ length: 100 }, () => insert.run()))();
    const walPages = (await fs.stat(`${file}-wal`)).size / 4096;
    expect(walPages).toBeGreaterThan(2900);
    await full;
    expect(passes.some((p) => p.error)).toBe(false);
    // woken by commits, not by a clock: an idle database costs the worker nothing (once the notifications of the
    // last commits, which may trail the pass that copied them, are spent: their pass comes within QUIET_PASS_MS)
    await new Promise((r) => setTimeout(r, QUIET_PASS_MS + 300));
    const seen = passes.length;
    await new Promise((r) => setTimeout(r, 1200));
    expect(passes.length).toBe(seen);
    const next = new Promise<void>((resolve) => {
      onPass = resolve;
    });
    db.$client.transaction(() => insert.run())();
    await next;
    expect(passes.length).toBeGreaterThan(seen);
    await checkpointer.stop();
    db.$client.close();
    const again = openDatabase(file);
    expect(again.$client.prepare("select count(*) as n from filler").get()).toEqual({ n: 3001 });
    again.$client.close();
  });

  it("between the worker's passes the main connection holds the database alone, and lets it go for each pass", async () => {
    const { db, file } = await tempDatabase();
    const passes: { checkpointed?: number; log?: number; error?: string }[] = [];
    let copied: () => void = () => undefined;
    const checkpointer = startCheckpointer(db.$client, file, (p) => {
      passes.push(p);
      if (p.log !== undefined && p.log > 0 && p.checkpointed === p.log) copied();
    });
    db.$client.exec("create table t (v text)");
    const insert = db.$client.prepare("insert into t values (?)");
    for (let round = 0; round < 3; round++) {
      const pass = new Promise<void>((resolve) => {
        copied = resolve;
      });
      insert.run(`r${round}`);
      // held: another connection cannot even read, so no commit of the main one took or dropped a file lock
      const other = new Database(file, { timeout: 0 });
      expect(() => other.prepare("select count(*) from t").get()).toThrow(/locked/);
      other.close();
      await pass;
    }
    expect(passes.filter((p) => p.error)).toEqual([]);
    await checkpointer.stop();
    db.$client.close();
    // every commit is in the database file: another connection reads them all
    const again = new Database(file, { readonly: true });
    expect(again.prepare("select count(*) as n from t").get()).toEqual({ n: 3 });
    again.close();
  });

  it("a trickle of small commits gets a pass about once a second; a WAL past SQLite's own checkpoint size at the next look", async () => {
    const { db, file } = await tempDatabase();
    const passes: number[] = [];
    let onPass: () => void = () => undefined;
    const checkpointer = startCheckpointer(db.$client, file, (p) => {
      if (p.error) throw new Error(p.error);
      passes.push(performance.now());
      onPass();
    });
    db.$client.exec("create table t (v text)");
    const insert = db.$client.prepare("insert into t values (?)");
    await new Promise((r) => setTimeout(r, QUIET_PASS_MS + 300));
    // 2.5 s of small commits, one every 10 ms: a pass at most every QUIET_PASS_MS (each pass slows the commits around
    // it), where a pass every 250 ms came to 9-10
    const start = performance.now();
    while (performance.now() - start < 2500) {
      insert.run("x");
      await new Promise((r) => setTimeout(r, 10));
    }
    const during = passes.filter((t) => t >= start).length;
    expect(during).toBeGreaterThan(0);
    expect(during).toBeLessThanOrEqual(Math.ceil(2500 / QUIET_PASS_MS));
    // a large WAL: its pass comes at the worker's next look (DELAY_MS), not a quiet time later
    await new Promise((r) => setTimeout(r, QUIET_PASS_MS + 300));
    db.$client.exec("create table filler (b blob)");
    const fill = db.$client.prepare("insert into filler values (randomblob(4000))");
    const next = new Promise<void>((resolve) => {
      onPass = resolve;
    });
    const wrote = performance.now();
    db.$client.transaction(() => {
      for (let i = 0; i < PASS_PAGES + 100; i++) fill.run();
    })();
    await next;
    expect(performance.now() - wrote).toBeLessThan(QUIET_PASS_MS - 100);
    await checkpointer.stop();
    db.$client.close();
  });

  it("without its worker, the main connection locks per transaction again, as SQLite does by default", async () => {
    const { db, file } = await tempDatabase();
    await startCheckpointer(db.$client, file).stop();
    db.$client.exec("create table t (v text)");
    db.$client.prepare("insert into t values ('x')").run();
    const other = new Database(file, { timeout: 0 });
    expect(other.prepare("select count(*) as n from t").get()).toEqual({ n: 1 });
    other.close();
    db.$client.close();
  });

  it("writes that never pause do not grow the WAL without bound: once it is large, a pass resets it", async () => {
    const { db, file } = await tempDatabase();
    const checkpointer = startCheckpointer(db.$client, file);
    // a log flood: ~400 MB of commits back to back; the worker gets its turns on its own thread while the loop only
    // yields between commits
    const largest = await flood(db, file, 1000, () => new Promise((r) => setImmediate(r)));
    await checkpointer.stop();
    db.$client.close();
    expect(largest / 1048576).toBeLessThan(WAL_RESET_BYTES / 1048576 + 64);
  }, 120_000);

  it("a flood's WAL is reset with a short copy on the event loop: the worker first catches up with what came during its pass", async () => {
    const { db, file } = await tempDatabase();
    const onLoop: number[] = [];
    const checkpointer = startCheckpointer(db.$client, file, (p) => {
      if (p.onLoop) onLoop.push(p.onLoop.frames);
    });
    // ~200 MB of commits back to back (~270 MB/s here): the WAL never finds itself all copied between two commits, so
    // it grows until a reset
    const largest = await flood(db, file, 500, () => new Promise((r) => setImmediate(r)));
    await checkpointer.stop();
    db.$client.close();
    expect(largest).toBeGreaterThan(WAL_RESET_BYTES);
    expect(onLoop.length).toBeGreaterThan(0);
    // before, the main connection copied all that came during the worker's one pass over the whole WAL: 8.6–11.9 MB
    // (2,205–3,045 frames) here, against 0.4–0.8 MB since
    expect(Math.max(...onLoop) * 4096).toBeLessThan(6 * 1048576);
  }, 120_000);

  it("a flood's WAL file is reused as it is, not trimmed by the commit that rewinds it, and truncated once the server is quiet; the part in use says when it is large", async () => {
    const { db, file } = await tempDatabase();
    const reports: PassReport[] = [];
    let passed: () => void = () => undefined;
    const checkpointer = startCheckpointer(db.$client, file, (p) => {
      reports.push(p);
      passed();
    });
    const nextPass = () =>
      new Promise<void>((resolve) => {
        passed = resolve;
      });
    // ~200 MB back to back: the WAL is reset along it (its frames reused from the file's start), by the worker's
    // passes or, if the machine is too busy to run them, by the backstop
    const sizes: number[] = [];
    await flood(db, file, 500, () => new Promise((r) => setImmediate(r)), sizes);
    // at least 100 frames a commit
    expect(Math.max(...sizes), "the WAL's largest file holds less than the flood").toBeLessThan(500 * 100 * 4120);
    // before, the first commit after each reset trimmed the file to 64 MiB (5–8 ms on the event loop each time);
    // now only from past WAL_FILE_LIMIT_BYTES (a worker kept from its passes, as on a loaded machine)
    const shrunk = sizes.findIndex((size, i) => i > 0 && size < sizes[i - 1] && sizes[i - 1] <= WAL_FILE_LIMIT_BYTES);
    expect(shrunk >= 0 ? `${sizes[shrunk - 1]} -> ${sizes[shrunk]} after commit ${shrunk}` : "never shrunk").toBe(
      "never shrunk",
    );
    const fileSize = (await fs.stat(`${file}-wal`)).size;
    expect(fileSize).toBeGreaterThan(WAL_RESET_BYTES);

    // quiet again: once passes have copied what the flood left, small writes use the WAL's start again (a pass finds
    // a short WAL), and from then on its passes are not those of a large WAL (no copy of the main connection's own)
    // though its file still is
    const insert = db.$client.prepare("insert into filler values (randomblob(100))");
    const small = (r: PassReport | undefined) => r?.log !== undefined && r.log < 100;
    for (let i = 0; i === 0 || !small(reports.at(-1)); i++) {
      expect(i, "passes until the WAL's start is used again").toBeLessThan(20);
      const pass = nextPass();
      insert.run();
      await pass;
    }
    const quiet = reports.length;
    for (let i = 0; i < 3; i++) {
      const pass = nextPass();
      for (let j = 0; j < 5; j++) insert.run();
      await pass;
    }
    const after = reports.slice(quiet);
    expect(after.length).toBeGreaterThanOrEqual(3);
    expect(after.filter((r) => r.onLoop || (r.log ?? 0) >= 100)).toEqual([]);

    // nothing written for a moment after a pass that copied it all: the worker truncates the file, off the loop
    await nextPass();
    const trimmed = reports.at(-1)!;
    expect(trimmed.trimmed).toBeGreaterThan(WAL_RESET_BYTES);
    expect((await fs.stat(`${file}-wal`)).size).toBe(0);
    // and the WAL starts again from nothing at the next write
    const pass = nextPass();
    insert.run();
    await pass;
    expect(reports.at(-1)).toMatchObject({ checkpointed: 1, log: 1 });
    const count = db.$client.prepare("select count(*) as n, max(rowid) as last from filler");
    const rows = count.get();
    await checkpointer.stop();
    db.$client.close();
    const again = new Database(file);
    expect(count.source && again.prepare(count.source).get()).toEqual(rows);
    again.close();
  }, 120_000);

  it("a WAL in use past its reset size when the worker looks (a server started again mid-flood) gets its pass at once", async () => {
    const firstPass = async (fill: (db: ReturnType<typeof openDatabase>, file: string) => Promise<unknown>) => {
      const { db, file } = await tempDatabase();
      // nothing copies the WAL back meanwhile, so nothing of it is reused: all of it is in use
      db.$client.pragma("wal_autocheckpoint = 0");
      await fill(db, file);
      const report = await new Promise<PassReport>((resolve) => {
        const checkpointer = startCheckpointer(db.$client, file, (p) => {
          void checkpointer.stop().then(() => resolve(p));
        });
      });
      db.$client.close();
      return report;
    };
    // ~72 MB
    const large = await firstPass((db, file) => flood(db, file, 180));
    expect(large.log! * 4120).toBeGreaterThan(WAL_RESET_BYTES);
    expect(large.atOnce).toBe(true);
    expect(large.onLoop).toBeDefined();
    const small = await firstPass(async (db) => db.$client.exec("create table t (x); insert into t values (1)"));
    expect(small.log).toBeGreaterThan(0);
    expect(small.atOnce).toBe(false);
    expect(small.onLoop).toBeUndefined();
  }, 120_000);

  it("a worker that is not run (a loaded machine): the main connection's backstop still bounds the WAL", async () => {
    const { db, file } = await tempDatabase();
    // the worker gone: as if its thread never got a turn
    await startCheckpointer(db.$client, file).stop();
    // ~160 MB of commits
    const largest = await flood(db, file, 400);
    db.$client.close();
    expect(largest).toBeGreaterThan(WAL_RESET_BYTES);
    expect(largest / 1048576).toBeLessThan(WAL_BACKSTOP_BYTES / 1048576 + 4);
  }, 120_000);

  it("an in-memory database has nothing to checkpoint: no worker", async () => {
    const db = openDatabase(":memory:");
    const c = startCheckpointer(db.$client, ":memory:");
    expect(db.$client.pragma("wal_autocheckpoint", { simple: true })).toBe(1000);
    await c.stop();
    db.$client.close();
  });
});

async function tempDatabase() {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-ckpt-"));
  dirs.push(dir);
  const file = path.join(dir, "slipstream.db");
  return { db: openDatabase(file), file };
}

/** `rounds` commits of ~400 KB each, the table itself kept small; the WAL's largest size along them. */
async function flood(
  db: ReturnType<typeof openDatabase>,
  file: string,
  rounds: number,
  between?: () => Promise<unknown>,
  sizes?: number[],
) {
  db.$client.exec("create table filler (b blob)");
  const insert = db.$client.prepare("insert into filler values (randomblob(4000))");
  const trim = db.$client.prepare("delete from filler where rowid < (select max(rowid) from filler) - 100");
  let largest = 0;
  for (let i = 0; i < rounds; i++) {
    db.$client.transaction(() => {
      for (let j = 0; j < 100; j++) insert.run();
      trim.run();
    })();
    const size = (await fs.stat(`${file}-wal`)).size;
    sizes?.push(size);
    largest = Math.max(largest, size);
    await between?.();
  }
  return largest;
}
