import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../protocol/limits.js";
import { testTempDir } from "../testing/temp-dirs.js";
import { tutorialRun, tutorialStore } from "../testing/tutorial-store.js";
import { listRuns } from "./list-runs.js";
import { loadRun } from "./load.js";
import { storedLastSeq } from "./stored-seq.js";

// A parameter write does not rewrite the run row (stored-seq.ts): on a real SQLite file with the real migrations,
// what a restart loads and what the runs list shows still carry the run's last seq and change time.

async function tutorialRunOnFile() {
  const file = path.join(await testTempDir("ss-stored-seq-"), "db.sqlite");
  const store = await tutorialStore(file);
  const { db, runs, admin } = store;
  const rt = tutorialRun(store, { clients: 1 });
  const rowOf = () =>
    db.$client.prepare("select last_seq, updated_at from runs where id = ?").get(rt.id) as {
      last_seq: number;
      updated_at: string;
    };
  return { db, runs, rt, admin, rowOf };
}

const opts = { ignoreAbort: false };

describe("a run's stored last seq", () => {
  it("plain parameter writes leave the run row alone; a reload and the runs list still have their seq and time", async () => {
    const s = await tutorialRunOnFile();
    const row = s.rowOf();
    expect(row.last_seq).toBe(s.rt.lastSeq);

    await Promise.all([
      s.runs.setParamGrouped(s.rt, "apache.1:port", "8080", opts, "node:apache.1"),
      s.runs.setParamGrouped(s.rt, "client.1:statecustom", "one", opts, "node:client.1"),
    ]);
    await new Promise((r) => setTimeout(r, 5)); // a later millisecond: the time must move too
    s.runs.setParam(s.rt, "client.1:statecustom", "two", opts, "node:client.1");
    expect(s.rt.lastSeq).toBeGreaterThan(row.last_seq);
    expect(s.rowOf()).toEqual(row);

    expect(storedLastSeq(s.db, s.rt.id)).toBe(s.rt.lastSeq);
    const loaded = loadRun(s.db, s.rt.id)!;
    expect(loaded.lastSeq).toBe(s.rt.lastSeq);
    expect(loaded.updatedAt).toBe(s.rt.updatedAt);
    expect(loaded.updatedAt > row.updated_at).toBe(true);
    const listed = listRuns(s.db, s.admin, {}).runs.find((r) => r.id === s.rt.id)!;
    expect([listed.lastSeq, listed.updatedAt]).toEqual([s.rt.lastSeq, s.rt.updatedAt]);
    expect(storedLastSeq(s.db, "no-such-run")).toBeNull();
  });

  it("a write that moves the machine stores the row's seq, and later plain writes go past it", async () => {
    const s = await tutorialRunOnFile();
    s.runs.abort(s.rt, "stop here", "node:client.1", "client.1");
    expect(s.rowOf().last_seq).toBe(s.rt.lastSeq);
    s.runs.setParam(s.rt, "client.1:statecustom", "after", { ignoreAbort: true }, "node:client.1");
    expect(s.rowOf().last_seq).toBeLessThan(s.rt.lastSeq);
    expect(loadRun(s.db, s.rt.id)!.lastSeq).toBe(s.rt.lastSeq);
  });

  it("log chunks past the instance's budget are dropped, never the newest event: a reload hands no seq out twice", async () => {
    const s = await tutorialRunOnFile();
    s.runs.limits = () => ({ ...DEFAULT_LIMITS, logBytesPerInstance: 4096 });
    for (let chunk = 1; chunk <= 40; chunk++) {
      s.runs.appendLog(s.rt, "client.1", { chunk, target: "execute", stream: "stdout", data: "x".repeat(500) });
      expect(storedLastSeq(s.db, s.rt.id)).toBe(s.rt.lastSeq);
    }
    const dropped = s.db.$client
      .prepare("select count(*) from events where run_id = ? and type = 'log-dropped'")
      .pluck()
      .get(s.rt.id);
    expect(dropped).toBe(1);
    expect(loadRun(s.db, s.rt.id)!.lastSeq).toBe(s.rt.lastSeq);
  });
});
