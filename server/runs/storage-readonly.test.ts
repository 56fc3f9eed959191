import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail, RunEvent } from "../../protocol/run.js";
import { runEnds, startTestServer, type TestServer } from "../testing/harness.js";
import { importModules } from "../testing/import-modules.js";
import { RunWatcher } from "../testing/watch.js";

/**
 * Issue 13 item 2, the read-only half: the server's database turns read-only while a run executes, with real agents
 * on the local cloud. Every write is answered 503 UNAVAILABLE naming the cause, the agents keep their log chunks and
 * completion and retry, and once the database is writable again the run ends Done with every log line, its event log
 * saying when storage failed (with SQLite's read-only code as the cause) and that it is back.
 *
 * How it is made read-only: SQLite's own `PRAGMA query_only` on the server's connection, so every write the server
 * makes fails with SQLITE_READONLY from the engine itself. The file system cannot do that to an open database
 * reversibly: `mount -o remount,ro` of a tmpfs DATA_DIR is refused (EBUSY) while SQLite holds its files open for
 * writing, a read-only bind mount made afterwards does not apply to descriptors already open, and an ext4 forced
 * read-only by an error (errors=remount-ro) makes SQLite fail with SQLITE_IOERR_WRITE (also 503, "storage I/O error")
 * and cannot be made writable again without unmounting.
 */

const LINES = 50;
const IMAGE = `kind: image
parameters:
  - { name: done, category: output }
targets:
  execute: |
    #!/bin/sh
    i=1
    while [ $i -le ${LINES} ]; do echo "line $i"; i=$((i+1)); sleep 0.1; done
    ss-set done yes
  report: |
    #!/bin/sh
    echo "report of $SLIPSTREAM_NODE_INSTANCE_NAME" > "$SLIPSTREAM_REPORT_DIR/note.txt"
`;

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ killGraceSeconds: 2 });
  await importModules(s, { "t/lines": IMAGE });
}, 60_000);

afterAll(async () => {
  await s?.close({ stopInstances: true });
});

describe("the server's database turns read-only during a run", () => {
  it("answers 503 naming the cause, the agents keep and retry, and the run ends Done with nothing lost", async () => {
    const sqlite = s.app.db.$client;
    const created = await s.api<RunDetail>("POST", "/api/runs", { module: "t/lines", keepRunning: "never" });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const runId = created.body.id;
    const watcher = new RunWatcher(s.url, s.token, runId);
    try {
      await watcher.until((e) => e.body.type === "log" && e.body.data.includes("line 5\n"));

      sqlite.pragma("query_only = ON");
      try {
        // a write of the test's own, over REST
        const refused = await s.api<{ error?: { code: string; message: string } }>("POST", "/api/modules/import", {
          files: [{ path: "t/probe", yaml: "kind: image\ndescription: probe\n" }],
        });
        expect(refused.status, JSON.stringify(refused.body)).toBe(503);
        expect(refused.body.error?.code).toBe("UNAVAILABLE");
        expect(refused.body.error?.message).toMatch(/storage read-only.*SQLITE_READONLY/);
        // a parameter write of the run, refused the same way
        const set = await s.api<{ error?: { code: string } }>("PUT", `/api/runs/${runId}/params/machine.1:done`, {
          value: "from the test",
        });
        expect(set.status, JSON.stringify(set.body)).toBe(503);
        // the recipe goes on printing while nothing can be stored; the run cannot move on
        await new Promise((r) => setTimeout(r, 3000));
        expect((await s.api<RunDetail>("GET", `/api/runs/${runId}`)).body.state).toBe("Executing");
      } finally {
        sqlite.pragma("query_only = OFF");
      }

      const end = await runEnds(s, runId);
      expect(end.state).toBe("Done");
      const events = (await s.api<{ events: RunEvent[] }>("GET", `/api/runs/${runId}/events?limit=10000`)).body.events;
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      const stdout = events
        .flatMap((e) =>
          e.body.type === "log" && e.body.target === "execute" && e.body.stream === "stdout" ? [e.body.data] : [],
        )
        .join("");
      const lines = stdout.split("\n").filter((l) => l.startsWith("line "));
      expect(lines).toEqual(Array.from({ length: LINES }, (_, i) => `line ${i + 1}`));
      // the agent's ss-set after the lines was acknowledged once the database was writable, and stored once
      const dones = events.filter((e) => e.body.type === "param" && e.body.key === "machine.1:done");
      expect(dones.map((e) => (e.body.type === "param" ? e.body.value : null))).toEqual(["yes"]);
      // the agent was refused and kept what it sent (its own log says so, stored once the database was writable)
      expect(events.some((e) => e.body.type === "log" && e.body.data.includes("server cannot take"))).toBe(true);
      const storage = events.flatMap((e) => (e.body.type === "storage" ? [e.body] : []));
      expect(storage.map((e) => e.status)).toEqual(["read-only", "back"]);
      expect(storage[0].cause).toMatch(/^SQLITE_READONLY/);
      const reports = await s.api<{ reports: { name: string }[] }>("GET", `/api/runs/${runId}/reports`);
      expect(reports.body.reports.map((r) => r.name.replace(/_report_.*/, "")).sort()).toEqual([
        "machine.1",
        "orchestrator",
      ]);
    } finally {
      watcher.close();
    }
  }, 120_000);
});
