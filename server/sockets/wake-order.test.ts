import fs from "node:fs";
import { describe, expect, it } from "vitest";
import type { RunEvent } from "../../protocol/run.js";
import { journalFileOf } from "../db/write-journal.js";
import { storedParams } from "../runs/stored-params.js";
import { executingRun } from "../testing/executing-run.js";
import { serverPerTest } from "../testing/per-test.js";

/**
 * A blocked `param:get` woken by a `param:set` is answered before the writer's own ack (run-group-commit.ts): the
 * reader once the value is in the parameter writes' journal (server/db/write-journal.ts), the writer once SQLite has
 * it too. Checked on one connection that both waits and writes, where what arrives first is what the server wrote
 * first.
 */

const t = serverPerTest();

describe("wake order", () => {
  it("the woken reader's answer is written before the writer's ack, the value journaled by then, and in SQLite by the ack", async () => {
    const { s, run, apache, client } = await executingRun(t);

    const arrived: string[] = [];
    const journaled: boolean[] = [];
    const stored: (string | null)[] = [];
    const storedValue = () => storedParams(s.app.db.$client, run.id).params.get("apache.1:ready")?.value ?? null;
    const journal = journalFileOf(s.app.db.$client.name);
    const waiting = apache.call("param:get", { key: "apache.1:ready", timeout: 0 }).then((ack) => {
      arrived.push("reader");
      journaled.push(
        fs.readFileSync(journal, "utf8").includes(String.raw`\"key\":\"apache.1:ready\",\"value\":\"true\"`),
      );
      return ack;
    });
    // another instance's wait on the same key is woken by the same write
    const other = client.call("param:get", { key: "apache.1:ready", timeout: 0 });
    // the waits are registered (answered in order on the connection) before the write is sent
    await apache.call("param:get", { key: "apache.1:hostname", timeout: 0, noblock: true });
    const written = apache.call("param:set", { key: "apache.1:ready", value: "true" }).then((ack) => {
      arrived.push("writer");
      stored.push(storedValue());
      return ack;
    });

    const [read, write, otherRead] = await Promise.all([waiting, written, other]);
    expect(read).toEqual({ ok: true, data: { value: "true" } });
    expect(otherRead).toEqual({ ok: true, data: { value: "true" } });
    expect(write.ok).toBe(true);
    expect(arrived).toEqual(["reader", "writer"]);
    expect(journaled).toEqual([true]);
    expect(stored).toEqual(["true"]);

    // one event for the write, as before
    const events = (await s.api<{ events: RunEvent[] }>("GET", `/api/runs/${run.id}/events?limit=10000`)).body.events;
    const sets = events.filter((e) => e.body.type === "param" && e.body.key === "apache.1:ready");
    expect(sets.map((e) => e.seq)).toEqual([(write as { data: { seq: number } }).data.seq]);
  });
});
