import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail, RunEvent } from "../../protocol/run.js";
import { runEnds, startTestServer, type TestServer } from "../testing/harness.js";
import { RunWatcher } from "../testing/watch.js";

/**
 * The server's disk fills up while a run executes, with real agents on the local cloud: writes are answered 507
 * naming the cause, the agents keep their log chunks and completion and retry, and once space is back the run ends
 * Done with every log line and report, its event log saying "storage full" and the recovery. DATA_DIR is a small
 * tmpfs (root only); the instances' workspaces are bind-mounted from elsewhere, as on a machine of their own.
 */

const LINES = 60;
const IMAGE = `kind: image
targets:
  execute: |
    #!/bin/sh
    i=1
    while [ $i -le ${LINES} ]; do echo "line $i"; i=$((i+1)); sleep 0.1; done
  report: |
    #!/bin/sh
    echo "report of $SLIPSTREAM_NODE_INSTANCE_NAME" > "$SLIPSTREAM_REPORT_DIR/note.txt"
`;

const root = process.getuid?.() === 0;
let dataDir = "";
let instancesDir = "";
const mounted: string[] = [];
let s: TestServer | null = null;

beforeAll(async () => {
  if (!root) return;
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-full-"));
  instancesDir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-full-instances-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=64m", "tmpfs", dataDir]);
  mounted.unshift(dataDir);
  await fs.mkdir(path.join(dataDir, "instances"));
  execFileSync("mount", ["--bind", instancesDir, path.join(dataDir, "instances")]);
  mounted.unshift(path.join(dataDir, "instances"));
  s = await startTestServer({ dataDir, killGraceSeconds: 2 });
  const res = await s.api("POST", "/api/modules/import", { files: [{ path: "t/lines", yaml: IMAGE }] });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}, 60_000);

afterAll(async () => {
  await s?.close({ stopInstances: true });
  for (const m of mounted) execFileSync("umount", ["-l", m]);
  for (const d of [dataDir, instancesDir]) if (d) await fs.rm(d, { recursive: true, force: true });
});

/** Fills the file system of `dir` to its last block. */
async function fill(file: string): Promise<void> {
  const handle = await fs.open(file, "w");
  try {
    for (const size of [1 << 20, 1 << 12]) {
      const block = Buffer.alloc(size, 7);
      try {
        for (;;) await handle.write(block);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
      }
    }
  } finally {
    await handle.close().catch(() => {});
  }
}

describe.skipIf(!root)("the server's disk fills up during a run", () => {
  it("answers 507 naming the cause, the agents keep and retry, and the run ends Done with nothing lost", async () => {
    const server = s!;
    const created = await server.api<RunDetail>("POST", "/api/runs", { module: "t/lines", keepRunning: "never" });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const runId = created.body.id;
    const watcher = new RunWatcher(server.url, server.token, runId);
    await watcher.until((e) => e.body.type === "log" && e.body.data.includes("line 5\n"));

    const filler = path.join(dataDir, "filler");
    await fill(filler);
    // a write of the test's own: answered 507 once SQLite runs out of room (its WAL may still have some)
    let refused: { status: number; body: { error?: { code: string; message: string } } } | null = null;
    for (let i = 0; !refused && i < 200; i++) {
      const res = await server.api<{ error?: { code: string; message: string } }>("POST", "/api/modules/import", {
        files: [{ path: `t/probe${i}`, yaml: `kind: image\ndescription: '${"x".repeat(4000)}'\n` }],
      });
      if (res.status !== 200) refused = res;
    }
    expect(refused?.status, JSON.stringify(refused?.body)).toBe(507);
    expect(refused?.body.error?.code).toBe("STORAGE_FULL");
    expect(refused?.body.error?.message).toMatch(/storage full.*(SQLITE_FULL|ENOSPC)/);
    // the recipe goes on printing while nothing can be stored; the run cannot move on
    await new Promise((r) => setTimeout(r, 3000));
    expect((await server.api<RunDetail>("GET", `/api/runs/${runId}`)).body.state).toBe("Executing");

    await fs.rm(filler);
    const end = await runEnds(server, runId);
    expect(end.state).toBe("Done");

    const events = (await server.api<{ events: RunEvent[] }>("GET", `/api/runs/${runId}/events?limit=10000`)).body
      .events;
    const stdout = events
      .flatMap((e) =>
        e.body.type === "log" && e.body.target === "execute" && e.body.stream === "stdout" ? [e.body.data] : [],
      )
      .join("");
    const lines = stdout.split("\n").filter((l) => l.startsWith("line "));
    expect(lines).toEqual(Array.from({ length: LINES }, (_, i) => `line ${i + 1}`));
    // the agent was refused and kept what it sent (its own log says so, stored once the disk was free)
    expect(events.some((e) => e.body.type === "log" && e.body.data.includes("server cannot take"))).toBe(true);
    const storage = events.flatMap((e) => (e.body.type === "storage" ? [e.body.status] : []));
    // one episode or more: once the WAL is rewound, SQLite reuses its own file's space and a probe can pass while
    // the disk is still full, the next write failing again; each episode is told as a pair, the last one "back"
    expect(storage.length).toBeGreaterThanOrEqual(2);
    expect(storage).toEqual(storage.map((_, i) => (i % 2 === 0 ? "full" : "back")));
    const reports = await server.api<{ reports: { name: string }[] }>("GET", `/api/runs/${runId}/reports`);
    expect(reports.body.reports.map((r) => r.name.replace(/_report_.*/, "")).sort()).toEqual([
      "machine.1",
      "orchestrator",
    ]);
    watcher.close();
  }, 120_000);
});
