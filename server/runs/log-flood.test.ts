import { execFile } from "node:child_process";
import { rm, stat } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { WAL_FILE_LIMIT_BYTES } from "../db/open.js";
import { runEnds, startTestServer, type TestServer } from "../testing/harness.js";
import { RunWatcher } from "../testing/watch.js";

const run = promisify(execFile);
let s: TestServer;

beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.close({ stopInstances: true });
  await rm(s.dataDir, { recursive: true, force: true });
});

/** Bytes under a directory, as `du` counts them (allocated blocks: what fills a disk), less the database's WAL. */
async function diskUsage(dir: string): Promise<number> {
  const { stdout } = await run("du", ["-sb", "--exclude=slipstream.db-wal", dir]);
  return Number(stdout.split("\t")[0]);
}

const FLOOD_MB = 300;

describe("a recipe that floods its log", () => {
  it(`${FLOOD_MB} MB of output keeps the head and the tail within the limit, says what was dropped, and the run page loads fast`, async () => {
    const limit = s.app.settings.limits.logBytesPerInstance;
    // a recognisable first and last line around 300 MB of 100-byte lines
    const yaml = `kind: image
targets:
  execute: |
    #!/bin/sh
    echo FIRST-LINE
    yes ${"A".repeat(99)} | head -c ${FLOOD_MB * 1024 * 1024}
    echo LAST-LINE
`;
    expect((await s.api("POST", "/api/modules/import", { files: [{ path: "t/flood", yaml }] })).status).toBe(200);
    const before = await diskUsage(s.dataDir);
    const created = (await s.api<RunDetail>("POST", "/api/runs", { module: "t/flood", keepRunning: "never" })).body;
    const ended = await runEnds(s, created.id);
    expect(ended.state).toBe("Done");
    const grown = await diskUsage(s.dataDir);
    process.stderr.write(`log flood: DATA_DIR grew by ${((grown - before) / 1048576).toFixed(1)} MiB\n`);
    // the database keeps one limit, the instance's workspace one and a half (its log file, then two tail files),
    // the report a compressed copy; page slack on top
    expect(grown - before).toBeLessThan(4 * limit + 16 * 1024 * 1024);
    // the WAL's file, reused along the flood, is trimmed past its limit (and truncated once the server is quiet,
    // server/db/checkpointer.test.ts)
    expect((await stat(path.join(s.dataDir, "slipstream.db-wal"))).size).toBeLessThanOrEqual(WAL_FILE_LIMIT_BYTES);

    const inst = ended.instances.find((i) => i.name === "machine.1")!;
    expect(inst.logDropped).toBeGreaterThan(FLOOD_MB * 1024 * 1024 - 2 * limit);

    // the run page's data: the detail, then the whole stored history as a browser subscribing from 0 gets it
    const t0 = performance.now();
    const detail = await s.api<RunDetail>("GET", `/api/runs/${created.id}`);
    const watcher = new RunWatcher(s.url, s.token, created.id);
    await watcher.until((e) => e.seq >= detail.body.lastSeq);
    const events = watcher.events;
    watcher.close();
    const loadMs = performance.now() - t0;
    expect(detail.status).toBe(200);
    expect(loadMs).toBeLessThan(1500);

    const logs = events.filter((e) => e.body.type === "log" && e.body.instance === "machine.1");
    const text = logs.map((e) => (e.body.type === "log" ? e.body.data : "")).join("");
    expect(text.length).toBeLessThanOrEqual(limit + 64 * 1024);
    expect(text).toContain("FIRST-LINE");
    expect(text).toContain("LAST-LINE");
    const marker = events.filter((e) => e.body.type === "log-dropped").at(-1);
    expect(marker?.body).toMatchObject({ type: "log-dropped", instance: "machine.1", bytes: inst.logDropped });
    // the marker sits between head and tail: every chunk up to afterSeq is the head
    const afterSeq = marker?.body.type === "log-dropped" ? marker.body.afterSeq : 0;
    const head = logs
      .filter((e) => e.seq <= afterSeq)
      .reduce((n, e) => n + (e.body.type === "log" ? e.body.data.length : 0), 0);
    expect(head).toBeLessThanOrEqual(limit / 2);
    expect(head).toBeGreaterThan(limit / 2 - 64 * 1024);
    expect((await s.api("GET", "/api/health")).status).toBe(200);
  }, 240_000);
});
