import type Database from "better-sqlite3";

const statements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/**
 * The statement for `sql` on this connection, prepared at its first use and kept: for queries run once per agent
 * connect or per run created, where preparing them each time took ~0.6 s of the server's CPU in a launch of 400 runs
 * of 10 (a profile of bench/limits.ts). The statement is shared by every caller of the same text, so none may change
 * its mode (`pluck`, `raw`, `expand`) or hold it in an `iterate()`.
 */
export function prepared(sqlite: Database.Database, sql: string): Database.Statement {
  let bySql = statements.get(sqlite);
  if (!bySql) {
    bySql = new Map();
    statements.set(sqlite, bySql);
  }
  let st = bySql.get(sql);
  if (!st) {
    st = sqlite.prepare(sql);
    bySql.set(sql, st);
  }
  return st;
}
