import { chmodSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { type BetterSQLite3Database, drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import * as schema from "./schema.js";
import { replayWriteJournal } from "./write-journal.js";

/** The WAL file's size past which a commit that rewinds it trims it back (see openDatabase). */
export const WAL_FILE_LIMIT_BYTES = 128 * 1024 * 1024;

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

const MIGRATIONS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../drizzle");

/** Opens (or creates) the database and applies every committed migration before anything else touches it. */
export function openDatabase(file: string): Db {
  const sqlite = new Database(file);
  sqlite.pragma("journal_mode = WAL");
  // password hashes, tokens' hashes, every run's parameters: the server's user only (SQLite creates its files
  // with the process umask; the WAL and shared-memory files exist once WAL mode is on)
  if (file !== ":memory:") {
    for (const f of [file, `${file}-wal`, `${file}-shm`]) {
      try {
        chmodSync(f, 0o600);
      } catch {
        // not created (yet)
      }
    }
  }
  // NORMAL in WAL mode is durable across process crashes (only an OS crash can lose the last commits).
  sqlite.pragma("synchronous = NORMAL");
  // the WAL is reused after each checkpoint but never shrinks by itself: a burst of writes (a log flood) would
  // leave it as large as the burst on disk for good. Trimming is a commit's work, on the event loop (freeing 20 MB
  // took 5–8 ms), so it is kept for a WAL past twice the size the checkpointer resets it at (checkpointer.ts
  // WAL_RESET_BYTES, 64 MiB): along a flood the WAL's file stays at its 70–100 MB, reused, and the checkpointer's
  // worker truncates it once the server is quiet
  sqlite.pragma(`journal_size_limit = ${WAL_FILE_LIMIT_BYTES}`);
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  const db = drizzle(sqlite, { schema }) as Db;
  migrate(db, { migrationsFolder: MIGRATIONS });
  // parameter writes answered before the process ended, that SQLite had not got yet
  replayWriteJournal(sqlite);
  return db;
}
