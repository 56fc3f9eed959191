import type { Table } from "drizzle-orm";

type Columns<T extends Table> = T["_"]["columns"];
type SqlValue<C> = C extends { _: { dataType: "boolean" } }
  ? number // SQLite has no booleans: raw SQL reads 0 / 1
  : C extends { _: { data: infer D; notNull: infer N } }
    ? N extends true
      ? D
      : D | null
    : never;

/**
 * A row of `T` as raw SQL (`select *` through better-sqlite3) returns it: keyed by the column's SQL name, typed from
 * the schema. Queries stay SQL (prepared once, streamed with iterate() where a page is bounded by bytes, batched
 * in the group commit); their rows are typed by the schema, never by a hand-written copy of it.
 */
export type SqlRow<T extends Table> = {
  [K in keyof Columns<T> as Columns<T>[K]["_"]["name"]]: SqlValue<Columns<T>[K]>;
};
