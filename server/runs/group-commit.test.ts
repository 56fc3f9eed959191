import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { SlipError } from "../../protocol/errors.js";
import type { RunEvent } from "../../protocol/run.js";
import { openDatabase } from "../db/open.js";
import { journalFileOf } from "../db/write-journal.js";
import { testTempDir } from "../testing/temp-dirs.js";
import { tutorialRun, tutorialStore } from "../testing/tutorial-store.js";
import { readEvents } from "./event-log.js";
import { storedParams } from "./stored-params.js";
import { storedLastSeq } from "./stored-seq.js";

// The group commit of agents' parameter writes (run-group-commit.ts) on a real SQLite file with the real migrations:
// what one turn of the event loop writes is stored, answered and pushed together, and a write that fails part-way
// through (a SQLite trigger refuses its value after its event row was written) fails alone. On a file, a turn goes
// through the parameter writes' journal first (server/db/write-journal.ts): its woken readers are answered from it.

/** `journal: false`: an in-memory database, which has none: every turn goes through SQLite's transaction */
async function tutorialRunGrouped(clients: number, { journal = true } = {}) {
  const file = journal ? path.join(await testTempDir("ss-group-"), "db.sqlite") : ":memory:";
  const store = await tutorialStore(file);
  const { db, runs, bus } = store;
  const rt = tutorialRun(store, { clients });
  const pushes: RunEvent[][] = [];
  bus.on("events", (runId, events) => {
    if (runId === rt.id) pushes.push(events);
  });
  // what a restart resumes from (stored-seq.ts: the run row's seq, or its newest event's)
  const storedSeq = () => storedLastSeq(db, rt.id);
  const storedValue = (key: string) => storedParams(db.$client, rt.id).params.get(key)?.value;
  return { db, runs, rt, pushes, storedSeq, storedValue };
}

const write = (s: Awaited<ReturnType<typeof tutorialRunGrouped>>, key: string, value: string) =>
  s.runs.setParamGrouped(s.rt, key, value, { ignoreAbort: false }, `node:${key.split(":")[0]}`);

async function outcome(p: Promise<number | null>): Promise<number | null | Error> {
  try {
    return await p;
  } catch (err) {
    return err as Error;
  }
}

describe("group commit of parameter writes", () => {
  it("one turn's writes: each answered with its own seq after the commit, stored with the run's last seq, pushed once in order", async () => {
    const s = await tutorialRunGrouped(3);
    const before = s.rt.lastSeq;
    const pushedBefore = s.pushes.length;
    const answers = [
      write(s, "apache.1:port", "8080"), // mapped: also sets client.1..3:webserver.port
      write(s, "client.1:statecustom", "one"),
      write(s, "client.2:statecustom", "two"),
      write(s, "apache.1:ready", "true"), // mapped too
      write(s, "client.3:statecustom", "three"),
    ];
    // nothing is answered, stored or pushed before the turn's commit
    expect(s.storedSeq()).toBe(before);
    const seqs = await Promise.all(answers);

    // the port and ready writes each carry three mapped events: 5 writes, 11 events
    expect(seqs).toEqual([before + 1, before + 5, before + 6, before + 7, before + 11]);
    expect(s.rt.lastSeq).toBe(before + 11);
    expect(s.storedSeq()).toBe(before + 11);
    const stored = readEvents(s.db, s.rt.id, before, 1000);
    expect(stored.map((e) => e.seq)).toEqual(Array.from({ length: 11 }, (_, i) => before + 1 + i));
    expect(s.storedValue("client.2:webserver.port")).toBe("8080");
    expect(s.storedValue("client.3:webserver.ready")).toBe("true");

    // one push for the turn, holding exactly what was stored, in seq order
    expect(s.pushes.length - pushedBefore).toBe(1);
    expect(s.pushes.at(-1)).toEqual(stored);
  });

  it("a write that fails after it began writing fails alone: the others are stored, answered and pushed gap-free", async () => {
    // through SQLite's transaction: a journaled turn writes nothing before its one append, which is whole or cut back
    const s = await tutorialRunGrouped(2, { journal: false });
    // a real SQLite failure part-way through a write: its event row is in, then its stored answer is refused
    s.db.$client.exec(
      `create trigger poison before insert on request_answers when new.request = 'poison'
       begin select raise(abort, 'poisoned value'); end`,
    );
    const before = s.rt.lastSeq;
    const countedBefore = s.rt.counted;
    const pushedBefore = s.pushes.length;
    const results = await Promise.all([
      outcome(write(s, "client.1:statecustom", "first")),
      outcome(write(s, "apache.1:port", "9090")),
      outcome(
        s.runs.setParamGrouped(s.rt, "client.2:statecustom", "poison", { ignoreAbort: false }, "node:client.2", {
          instance: "client.2",
          request: "poison",
        }),
      ),
      outcome(write(s, "client.1:statecustom", "last")),
    ]);

    expect(results[2]).toBeInstanceOf(Error);
    expect((results[2] as Error).message).toContain("poisoned value");
    expect(results[0]).toBe(before + 1);
    expect(results[1]).toBe(before + 2); // + client.1 and client.2:webserver.port
    expect(results[3]).toBe(before + 5);

    const stored = readEvents(s.db, s.rt.id, before, 1000);
    expect(stored.map((e) => e.seq)).toEqual([before + 1, before + 2, before + 3, before + 4, before + 5]);
    expect(stored.some((e) => e.body.type === "param" && e.body.value === "poison")).toBe(false);
    expect(s.storedSeq()).toBe(before + 5);
    expect(s.rt.lastSeq).toBe(before + 5);
    expect(s.rt.counted).toBe(countedBefore + 5);
    // memory says what the database says
    expect(s.rt.params.get("client.2:statecustom")?.value).not.toBe("poison");
    expect(s.storedValue("client.1:statecustom")).toBe("last");
    expect(s.rt.params.get("client.1:statecustom")?.value).toBe("last");
    expect(s.pushes.slice(pushedBefore).flat()).toEqual(stored);

    // the next turn goes on from there
    expect(await write(s, "client.2:statecustom", "fine")).toBe(before + 6);
    expect(s.storedSeq()).toBe(before + 6);
  });

  it("writes queued before an abort in the same turn are refused at commit, and nothing of them is stored", async () => {
    const s = await tutorialRunGrouped(1);
    const before = s.rt.lastSeq;
    const queued = [outcome(write(s, "client.1:statecustom", "x")), outcome(write(s, "apache.1:port", "1"))];
    s.runs.abort(s.rt, "stop", "user:admin");
    const afterAbort = s.rt.lastSeq;
    expect(afterAbort).toBeGreaterThan(before);
    for (const r of await Promise.all(queued)) {
      expect(r).toBeInstanceOf(SlipError);
      expect((r as SlipError).code).toBe("ABORTED");
    }
    expect(s.rt.lastSeq).toBe(afterAbort);
    expect(s.storedSeq()).toBe(afterAbort);
    expect(readEvents(s.db, s.rt.id, afterAbort, 100)).toEqual([]);
  });
});

const WAIT = { timeout: 0, noblock: false, ignoreAbort: false };

/** The values of the events in a journal file, by key. */
function journaledValues(file: string): Map<string, string | null> {
  const values = new Map<string, string | null>();
  for (const line of fs.readFileSync(file, "utf8").split("\n").filter(Boolean)) {
    for (const row of (JSON.parse(line) as { e: [string, number, string, string, string, string][] }).e) {
      const body = JSON.parse(row[5]) as { key: string; value: string | null };
      values.set(body.key, body.value);
    }
  }
  return values;
}

describe("group commit through the journal", () => {
  it("a turn of a run with no wait open goes through SQLite's transaction, as no reader can be woken", async () => {
    const s = await tutorialRunGrouped(1);
    const journal = journalFileOf(s.db.$client.name);
    const key = "client.1:statecustom";
    const stored = write(s, key, "direct").then(() => ({
      stored: s.storedValue(key),
      journaled: journaledValues(journal).has(key),
    }));
    expect(await stored).toEqual({ stored: "direct", journaled: false });
  });

  it("a woken reader is answered from the journal before SQLite has the value; the writer and the watchers once it has", async () => {
    const s = await tutorialRunGrouped(1);
    const key = "apache.1:ready";
    expect(s.rt.params.get(key)?.value).toBeNull();
    const journal = journalFileOf(s.db.$client.name);
    const pushedBefore = s.pushes.length;
    const read = s.runs.getParam(s.rt, key, WAIT, "node:client.1").then((value) => ({
      value,
      stored: s.storedValue(key),
      journaled: journaledValues(journal).get(key),
      pushed: s.pushes.length - pushedBefore,
    }));
    const written = write(s, key, "true").then((seq) => ({
      seq,
      stored: s.storedValue(key),
      pushed: s.pushes.slice(pushedBefore).flat(),
    }));

    const r = await read;
    expect(r).toEqual({ value: "true", stored: null, journaled: "true", pushed: 0 });
    const w = await written;
    expect(w.stored).toBe("true");
    // the write and its mapping (client.1:webserver.ready), pushed as stored
    expect(w.pushed).toEqual(readEvents(s.db, s.rt.id, w.seq! - 1, 100));
    expect(w.pushed.map((e) => e.seq)).toEqual([w.seq, w.seq! + 1]);
  });

  it("a turn journaled, not yet in SQLite when the process ends, is stored with its answer when the database opens again", async () => {
    const s = await tutorialRunGrouped(1);
    const key = "apache.1:ready";
    const file = s.db.$client.name;
    const dir = await testTempDir("ss-group-crash-");
    // what a kill -9 at the reader's answer leaves: the files as they are then
    const copy = (to: string, withJournal: boolean) => {
      for (const suffix of ["", "-wal", "-shm", ...(withJournal ? ["-writes"] : [])]) {
        if (fs.existsSync(file + suffix)) fs.copyFileSync(file + suffix, to + suffix);
      }
    };
    const read = s.runs.getParam(s.rt, key, WAIT, "node:client.1").then((value) => {
      copy(path.join(dir, "without.sqlite"), false);
      copy(path.join(dir, "with.sqlite"), true);
      return value;
    });
    const seq = await s.runs.setParamGrouped(s.rt, key, "true", { ignoreAbort: false }, "node:apache.1", {
      instance: "apache.1",
      request: "param:set r-1",
    });
    expect(await read).toBe("true");

    const answerOf = (db: Database.Database) =>
      db.prepare("select answer from request_answers where request = 'param:set r-1'").pluck().get();
    // SQLite alone had neither the value nor the answer then
    const without = new Database(path.join(dir, "without.sqlite"));
    expect(storedParams(without, s.rt.id).params.get(key)?.value ?? null).toBeNull();
    expect(answerOf(without)).toBeUndefined();
    without.close();

    const reopened = openDatabase(path.join(dir, "with.sqlite"));
    expect(storedParams(reopened.$client, s.rt.id).params.get(key)).toMatchObject({ value: "true", seq });
    expect(answerOf(reopened.$client)).toBe(JSON.stringify({ seq }));
    expect(fs.statSync(journalFileOf(path.join(dir, "with.sqlite"))).size).toBe(0);
    reopened.$client.close();
  });

  it("SQLite refusing the journaled rows: the writer is answered, later writes are refused, and once it takes them they are stored and pushed", async () => {
    const s = await tutorialRunGrouped(1);
    const key = "client.1:statecustom";
    const sqlite = s.db.$client;
    const pushedBefore = s.pushes.length;
    // a wait open in the run: its turns go through the journal
    void s.runs.getParam(s.rt, "apache.1:ready", WAIT, "node:client.1").catch(() => {});
    // a real refusal of every write (as a read-only database gives), after the turn's append
    sqlite.pragma("query_only = ON");
    const seq = await write(s, key, "kept");
    expect(s.rt.params.get(key)?.value).toBe("kept");
    expect(s.pushes.length).toBe(pushedBefore);

    const refused = await outcome(write(s, "client.1:statecustom", "refused"));
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error & { code?: string }).code).toBe("SQLITE_READONLY");
    expect(s.rt.params.get(key)?.value).toBe("kept");

    sqlite.pragma("query_only = OFF");
    // the storage probe's transaction (RunCommit.storageFailed) stores what was journaled first
    const pushed = await new Promise<RunEvent[]>((resolve) => {
      const look = () => (s.pushes.length > pushedBefore ? resolve(s.pushes[pushedBefore]) : setTimeout(look, 50));
      look();
    });
    expect(pushed.map((e) => e.seq)).toEqual([seq]);
    expect(s.storedValue(key)).toBe("kept");
    expect(await write(s, key, "after")).toBeGreaterThan(seq!);
    expect(s.storedValue(key)).toBe("after");
  });
});
