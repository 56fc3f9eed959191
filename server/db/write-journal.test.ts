import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readEvents } from "../runs/event-log.js";
import { storedParams } from "../runs/stored-params.js";
import { testTempDir } from "../testing/temp-dirs.js";
import { tutorialRun, tutorialStore } from "../testing/tutorial-store.js";
import { openDatabase } from "./open.js";
import { type EventRow, JOURNAL_RESET_BYTES, journalFileOf, WriteJournal } from "./write-journal.js";

// The parameter writes' journal (write-journal.ts) on a real SQLite file with the real migrations: what it holds is
// stored when the database is opened, once, and nothing it should not be.

const AT = "2026-12-06T09:00:00.000Z";
const param = (runId: string, seq: number, key: string, value: string): EventRow => [
  runId,
  seq,
  AT,
  `node:${key.split(":")[0]}`,
  "param",
  JSON.stringify({ type: "param", key, value }),
];

async function storeWithRuns() {
  const file = path.join(await testTempDir("ss-journal-"), "db.sqlite");
  const store = await tutorialStore(file);
  const live = tutorialRun(store, { clients: 1 });
  const ended = tutorialRun(store, { clients: 1 });
  store.db.$client.prepare("update runs set state = 'Done' where id = ?").run(ended.id);
  return { file, store, live, ended };
}

describe("the parameter writes' journal", () => {
  it("opening the database stores what the journal holds that SQLite lacks, once, and empties the file", async () => {
    const { file, store, live, ended } = await storeWithRuns();
    const seq = live.lastSeq;
    const journal = WriteJournal.of(store.db.$client)!;
    journal.append({
      events: [param(live.id, seq + 1, "client.1:statecustom", "one")],
      answers: [[live.id, "client.1", "param:set a", JSON.stringify({ seq: seq + 1 })]],
    });
    journal.append({
      events: [param(live.id, seq + 2, "client.1:statecustom", "two"), param("no-such-run", 1, "a.1:x", "y")],
      answers: [
        [ended.id, "client.1", "param:set b", JSON.stringify({ seq: 9 })],
        ["no-such-run", "a.1", "param:set c", JSON.stringify({ seq: 1 })],
      ],
    });
    journal.close();
    // the end of the process during a third append: a line cut short, never answered
    fs.appendFileSync(journalFileOf(file), '{"e":[["run');
    store.db.$client.close();

    const db = openDatabase(file);
    const events = readEvents(db, live.id, seq, 100);
    expect(events.map((e) => [e.seq, e.body])).toEqual([
      [seq + 1, { type: "param", key: "client.1:statecustom", value: "one" }],
      [seq + 2, { type: "param", key: "client.1:statecustom", value: "two" }],
    ]);
    expect(storedParams(db.$client, live.id).params.get("client.1:statecustom")?.value).toBe("two");
    const answers = db.$client.prepare("select run_id, request, answer from request_answers").all();
    expect(answers).toEqual([{ run_id: live.id, request: "param:set a", answer: JSON.stringify({ seq: seq + 1 }) }]);
    expect(db.$client.prepare("select count(*) from events where run_id = 'no-such-run'").pluck().get()).toBe(0);
    expect(fs.statSync(journalFileOf(file)).size).toBe(0);
    db.$client.close();

    // opened again: nothing more, nothing twice
    const again = openDatabase(file);
    expect(readEvents(again, live.id, seq, 100)).toHaveLength(2);
    again.$client.close();
  });

  it("rows SQLite already has are left as they are", async () => {
    const { file, store, live } = await storeWithRuns();
    const seq = live.lastSeq;
    const sqlite = store.db.$client;
    sqlite
      .prepare("insert into events (run_id, seq, at, actor, type, body) values (?, ?, ?, ?, ?, ?)")
      .run(...param(live.id, seq + 1, "client.1:statecustom", "stored"));
    const journal = WriteJournal.of(sqlite)!;
    // a journal is replayed whole: rows stored long ago come again, and are taken for what they are
    journal.append({ events: [param(live.id, seq + 1, "client.1:statecustom", "other")], answers: [] });
    journal.close();
    sqlite.close();

    const db = openDatabase(file);
    expect(readEvents(db, live.id, seq, 100).map((e) => e.body)).toEqual([
      { type: "param", key: "client.1:statecustom", value: "stored" },
    ]);
    db.$client.close();
  });

  it("is emptied once SQLite has all of it and it has grown past its size, and not before", async () => {
    const { file, store, live } = await storeWithRuns();
    const journal = WriteJournal.of(store.db.$client)!;
    const row = param(live.id, live.lastSeq + 1, "client.1:statecustom", "x".repeat(64 * 1024));
    journal.append({ events: [row], answers: [] });
    journal.applied();
    expect(fs.statSync(journalFileOf(file)).size).toBeGreaterThan(64 * 1024);
    for (let size = 0; size < JOURNAL_RESET_BYTES; size += 64 * 1024) journal.append({ events: [row], answers: [] });
    journal.applied();
    expect(fs.statSync(journalFileOf(file)).size).toBe(0);
    // appends go on from the start of the file
    journal.append({ events: [row], answers: [] });
    expect(fs.readFileSync(journalFileOf(file), "utf8").split("\n").filter(Boolean)).toHaveLength(1);
    journal.close();
    expect(fs.statSync(journalFileOf(file)).mode & 0o777).toBe(0o600);
  });
});
