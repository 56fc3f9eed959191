import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../root.js";
import { tutorialRun, tutorialStore } from "../testing/tutorial-store.js";

// What one agent's ss-set costs the disk: every page a commit changes is a WAL frame, written with two pwrite()s
// before the write is answered and before the readers it wakes are (bench/RESULTS.md, figure 1). A parameter write
// that an agent may re-send (it carries a request id) stores its event, its value and its answer.

describe("the pages a parameter write commits", () => {
  it("a re-sendable ss-set commits four WAL frames: its event and that event's key, its value, its stored answer", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ss-pages-"));
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
    // 4 pages a write, and now and then a leaf that splits (5 before request_answers was WITHOUT ROWID)
    expect(frames / writes).toBeLessThan(4.2);
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
    const migration = fs.readFileSync(path.join(ROOT, "drizzle", "0017_answers_without_rowid.sql"), "utf8");
    for (const statement of migration.split("--> statement-breakpoint")) sqlite.exec(statement);
    const rows = sqlite.prepare("select * from request_answers order by request").all();
    expect(rows).toHaveLength(50);
    expect(rows[0]).toEqual({ run_id: id, instance: "client.0", request: "param:set r0", answer: '{"seq":0}' });
    const ddl = sqlite.prepare("select sql from sqlite_master where name = 'request_answers'").get() as { sql: string };
    expect(ddl.sql).toMatch(/WITHOUT ROWID/);
  });
});
