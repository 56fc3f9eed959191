import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { prepared } from "./prepared.js";

describe("prepared statements kept per connection", () => {
  it("the same text on the same connection is one statement; another connection gets its own", () => {
    const a = new Database(":memory:");
    const b = new Database(":memory:");
    try {
      for (const db of [a, b]) db.exec("create table t (k text primary key, v text)");
      const put = prepared(a, "insert into t values (?, ?)");
      expect(prepared(a, "insert into t values (?, ?)")).toBe(put);
      expect(prepared(b, "insert into t values (?, ?)")).not.toBe(put);
      put.run("x", "1");
      prepared(b, "insert into t values (?, ?)").run("x", "2");
      // each statement runs on its own connection
      expect(prepared(a, "select v from t where k = ?").get("x")).toEqual({ v: "1" });
      expect(prepared(b, "select v from t where k = ?").get("x")).toEqual({ v: "2" });
    } finally {
      a.close();
      b.close();
    }
  });
});
