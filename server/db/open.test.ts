import { describe, expect, it } from "vitest";
import { openDatabase } from "./open.js";

describe("database", () => {
  it("applies the committed migrations to a fresh database", () => {
    const db = openDatabase(":memory:");
    const tables = db.$client
      .prepare(
        "select name from sqlite_master where type='table' and name not like '\\_\\_%' escape '\\' order by name",
      )
      .all()
      .map((r) => (r as { name: string }).name);
    expect(tables).toEqual(
      expect.arrayContaining(["api_tokens", "events", "instances", "modules", "params", "reports", "runs", "users"]),
    );
  });
});
