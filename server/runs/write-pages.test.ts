import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { requestIdOf } from "../../protocol/agent-socket.js";
import { ROOT } from "../root.js";
import { testTempDirSync } from "../testing/temp-dirs.js";
import { tutorialRun, tutorialStore } from "../testing/tutorial-store.js";
import { loadRun } from "./load.js";

// What one agent's ss-set costs the disk: every page a commit changes is a WAL frame, written with two pwrite()s
// before the write is answered and before the readers it wakes are (bench/RESULTS.md, figure 1). A parameter write
// that an agent may re-send (it carries a request id) stores its event and its answer; its value is its event's
// (stored-params.ts), so the parameter's row, on a page of its own, is left as declared. The tables it writes
// are WITHOUT ROWID where they can be (migrations 0017 and 0018), so that each is one b-tree and one page a write; and
// the answers are keyed by request, whose ids begin with their time, so that many instances' writes in one commit
// append them to the same pages (0019).

/** Runs one of drizzle/'s migrations on a database, as the migrator does, statement by statement. */
function migrate(sqlite: { exec(sql: string): unknown }, file: string): void {
  const migration = fs.readFileSync(path.join(ROOT, "drizzle", file), "utf8");
  for (const statement of migration.split("--> statement-breakpoint")) sqlite.exec(statement);
}

/** The pages of `file`'s WAL, each with the table (or index) it belongs to, from the frames' headers and dbstat. */
function walPages(sqlite: { prepare(sql: string): { all(): unknown[] } }, file: string, pageSize: number): string[] {
  const wal = fs.readFileSync(`${file}-wal`);
  const owner = new Map(
    (sqlite.prepare("select name, pageno from dbstat").all() as { name: string; pageno: number }[]).map((r) => [
      r.pageno,
      r.name,
    ]),
  );
  const pages: string[] = [];
  for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
    pages.push(owner.get(wal.readUInt32BE(at)) ?? "?");
  }
  return pages;
}

function ddlOf(sqlite: { prepare(sql: string): { get(name: string): unknown } }, name: string): string {
  return (sqlite.prepare("select sql from sqlite_master where name = ?").get(name) as { sql: string }).sql;
}

describe("the pages a parameter write commits", () => {
  it("a re-sendable ss-set commits two WAL frames: its event and its stored answer", async () => {
    const dir = testTempDirSync("ss-pages-");
    const file = path.join(dir, "db.sqlite");
    const s = await tutorialStore(file);
    const rt = tutorialRun(s, { clients: 1 });
    const sqlite = s.db.$client;
    const pageSize = sqlite.pragma("page_size", { simple: true }) as number;
    sqlite.pragma("wal_checkpoint(TRUNCATE)");
    expect(fs.statSync(`${file}-wal`).size).toBe(0);
    const writes = 40;
    for (let i = 0; i < writes; i++) {
      // one commit each: a turn of the event loop per write
      await s.runs.setParamGrouped(rt, "client.1:statecustom", `v${i}`, { ignoreAbort: false }, "node:client.1", {
        instance: "client.1",
        request: `param:set r${i}`,
      });
    }
    const stored = sqlite
      .prepare("select count(*) as n from request_answers where run_id = ? and instance = 'client.1'")
      .get(rt.id) as { n: number };
    expect(stored.n).toBe(writes);
    const frames = (fs.statSync(`${file}-wal`).size - 32) / (pageSize + 24);
    // 2 pages a write, and now and then a leaf that splits (3.35 while a write updated its parameter's row, 4.1
    // before events were WITHOUT ROWID, 5 before request_answers was)
    expect(frames / writes).toBeLessThan(2.5);
    // and what is stored is what the run holds
    expect(loadRun(s.db, rt.id)?.params.get("client.1:statecustom")).toEqual(rt.params.get("client.1:statecustom"));
  });

  it("one commit of many instances' writes stores their events and answers in a few pages, and no parameter's row", async () => {
    const dir = testTempDirSync("ss-pages-");
    const file = path.join(dir, "db.sqlite");
    const s = await tutorialStore(file);
    const clients = 60;
    const rt = tutorialRun(s, { clients });
    const sqlite = s.db.$client;
    const pageSize = sqlite.pragma("page_size", { simple: true }) as number;
    const names = Array.from({ length: clients }, (_, i) => `client.${i + 1}`);
    // every agent writes in turn for a while, with its ids made as agents make them, so that each instance has a
    // history of stored answers (before 0019 they were grouped by instance: a page for every few instances)
    let n = 0;
    const round = (r: number) =>
      Promise.all(
        names.map((name, i) =>
          s.runs.setParamGrouped(rt, `${name}:statecustom`, `r${r}`, { ignoreAbort: false }, `node:${name}`, {
            instance: name,
            request: `param:set ${requestIdOf(Date.now(), `session${i}`, ++n)}`,
          }),
        ),
      );
    for (let r = 0; r < 30; r++) await round(r);
    sqlite.pragma("wal_checkpoint(TRUNCATE)");
    expect(fs.statSync(`${file}-wal`).size).toBe(0);
    // one more round, all in one turn: one group commit
    await round(30);
    const pages = walPages(sqlite, file, pageSize);
    const answerPages = pages.filter((p) => p === "request_answers").length;
    // the end of the run's range, and the leaves a split there rebalances: 5 pages; before 0019, 50 (the commit 105
    // pages in all, 60 now)
    expect(answerPages).toBeLessThanOrEqual(8);
    // each parameter's row was a page of its own, scattered over the table: 43 of the commit's 60 pages, 17 now
    expect(pages.filter((p) => p === "params")).toEqual([]);
    expect(pages.length).toBeLessThanOrEqual(24);
    const stored = sqlite.prepare("select count(*) as n from request_answers where run_id = ?").get(rt.id) as {
      n: number;
    };
    expect(stored.n).toBe(31 * clients);
  });

  it("the migration to a request_answers WITHOUT ROWID keeps every stored answer", async () => {
    const s = await tutorialStore();
    const { id } = tutorialRun(s, { clients: 1 });
    const sqlite = s.db.$client;
    // the table as it was before 0017
    sqlite.exec(`drop table request_answers;
      create table request_answers (run_id text not null, instance text not null, request text not null,
        answer text not null, primary key (run_id, instance, request), foreign key (run_id) references runs(id))`);
    const put = sqlite.prepare("insert into request_answers values (?, ?, ?, ?)");
    for (let i = 0; i < 50; i++) put.run(id, `client.${i % 3}`, `param:set r${i}`, JSON.stringify({ seq: i }));
    migrate(sqlite, "0017_answers_without_rowid.sql");
    const rows = sqlite.prepare("select * from request_answers order by request").all();
    expect(rows).toHaveLength(50);
    expect(rows[0]).toEqual({ run_id: id, instance: "client.0", request: "param:set r0", answer: '{"seq":0}' });
    expect(ddlOf(sqlite, "request_answers")).toMatch(/WITHOUT ROWID/);
  });

  it("the migration to answers keyed by request keeps every answer, and a loaded run knows whose are stored", async () => {
    const s = await tutorialStore();
    const { id } = tutorialRun(s, { clients: 3 });
    const sqlite = s.db.$client;
    // the table as it was before 0019 (0017's), keyed by instance first
    sqlite.exec(`drop table request_answers;
      create table request_answers (run_id text not null, instance text not null, request text not null,
        answer text not null, primary key (run_id, instance, request), foreign key (run_id) references runs(id))
        without rowid`);
    const put = sqlite.prepare("insert into request_answers values (?, ?, ?, ?)");
    for (let i = 0; i < 40; i++)
      put.run(id, `client.${1 + (i % 2) * 2}`, `param:set s-${i}`, JSON.stringify({ seq: i }));
    const all = sqlite.prepare("select * from request_answers order by instance, request").all();
    migrate(sqlite, "0019_answers_by_request.sql");
    expect(sqlite.prepare("select * from request_answers order by instance, request").all()).toEqual(all);
    expect(ddlOf(sqlite, "request_answers")).toMatch(/PRIMARY KEY\(`run_id`, `request`, `instance`\)/);
    expect(ddlOf(sqlite, "request_answers")).toMatch(/WITHOUT ROWID/);
    // a re-send's lookup is one descent of the key
    const plan = sqlite
      .prepare(
        "explain query plan select answer from request_answers where run_id = ? and instance = ? and request = ?",
      )
      .all(id, "client.1", "param:set s-0") as { detail: string }[];
    expect(plan.map((p) => p.detail).join(" ")).toMatch(/PRIMARY KEY \(run_id=\? AND request=\? AND instance=\?\)/);
    const rt = loadRun(s.db, id);
    expect([...(rt?.answeredBefore ?? [])].sort()).toEqual(["client.1", "client.3"]);
  });

  it("the migration to events WITHOUT ROWID keeps every event, in order, and the index of aborts", async () => {
    const s = await tutorialStore();
    const { id } = tutorialRun(s, { clients: 1 });
    const sqlite = s.db.$client;
    const before = sqlite.prepare("select * from events where run_id = ? order by seq").all(id) as { seq: number }[];
    expect(before.length).toBeGreaterThan(0);
    // the table as it was before 0018, with the run's events and a few more, an abort among them
    sqlite.exec(`create table events_old as select * from events; drop table events;
      create table events (run_id text not null, seq integer not null, at text not null, actor text not null,
        type text not null, body text not null, primary key (run_id, seq), foreign key (run_id) references runs(id));
      insert into events select * from events_old; drop table events_old;
      create index events_abort_idx on events (run_id, seq) where type = 'abort'`);
    const last = before.at(-1)!.seq;
    const put = sqlite.prepare("insert into events values (?, ?, ?, 'node:client.1', ?, ?)");
    put.run(id, last + 1, "2026-12-04T00:00:00.000Z", "abort", JSON.stringify({ type: "abort", message: "m" }));
    put.run(id, last + 2, "2026-12-04T00:00:01.000Z", "log", JSON.stringify({ type: "log", data: "x".repeat(9000) }));
    const all = sqlite.prepare("select * from events where run_id = ? order by seq").all(id);
    migrate(sqlite, "0018_events_without_rowid.sql");
    expect(sqlite.prepare("select * from events where run_id = ? order by seq").all(id)).toEqual(all);
    expect(ddlOf(sqlite, "events")).toMatch(/WITHOUT ROWID/);
    const plan = sqlite
      .prepare("explain query plan select seq from events where run_id = ? and type = 'abort'")
      .all(id) as { detail: string }[];
    expect(plan.map((p) => p.detail).join(" ")).toMatch(/events_abort_idx/);
  });
});
