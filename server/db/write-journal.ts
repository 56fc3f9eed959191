import fs from "node:fs";
import type Database from "better-sqlite3";
import { z } from "zod";
import { TERMINAL_STATES } from "../../protocol/run.js";

/**
 * The parameter writes' journal: a turn's writes are stored here in one `write()` and the readers they wake are
 * answered at once; their rows reach SQLite right after (run-group-commit.ts). SQLite's transaction was a third of a
 * wake's time (bench/RESULTS.md); an append to this file is as durable (WAL mode with synchronous = NORMAL is
 * written, not synced, at commit: both survive the process, neither an OS crash). The journal only ever holds rows
 * that SQLite gets a moment later, so replaying it at open is idempotent: an event is its (run, seq) and is never
 * rewritten, an answer is written again as it was.
 */

/** `events` columns in insert order: run_id, seq, at, actor, type, body */
export type EventRow = [runId: string, seq: number, at: string, actor: string, type: string, body: string];
/** `request_answers` columns in insert order: run_id, instance, request, answer */
export type AnswerRow = [runId: string, instance: string, request: string, answer: string];

export interface JournalRows {
  events: EventRow[];
  answers: AnswerRow[];
}

/** One line of the file: a turn's rows. */
const LINE = z.object({
  e: z.array(z.tuple([z.string(), z.number().int(), z.string(), z.string(), z.string(), z.string()])),
  a: z.array(z.tuple([z.string(), z.string(), z.string(), z.string()])),
});

/** Past this size the file is emptied once SQLite has all of it (an append-only file would grow for good). */
export const JOURNAL_RESET_BYTES = 1024 * 1024;

export function journalFileOf(dbFile: string): string {
  return `${dbFile}-writes`;
}

export class WriteJournal {
  private size: number;

  private constructor(
    private fd: number | null,
    readonly file: string,
  ) {
    this.size = fs.fstatSync(fd as number).size;
  }

  /** The journal of a database file; none for an in-memory database (nothing of it outlives the process anyway). */
  static of(sqlite: Database.Database): WriteJournal | null {
    if (sqlite.memory) return null;
    const file = journalFileOf(sqlite.name);
    // parameter values: the server's user only, as the database's own files
    return new WriteJournal(fs.openSync(file, "a", 0o600), file);
  }

  /**
   * Appends a turn's rows in one system call. Throws if they are not all written, with the file as it was before
   * (a torn line would make the next ones unreadable at replay): the caller stores them in SQLite instead.
   */
  append(rows: JournalRows): void {
    if (this.fd === null) throw new Error("the parameter writes' journal is closed");
    const line = Buffer.from(`${JSON.stringify({ e: rows.events, a: rows.answers })}\n`);
    let written = 0;
    try {
      written = fs.writeSync(this.fd, line);
    } finally {
      if (written !== line.length) this.cut();
    }
    if (written !== line.length) throw new Error(`the journal took ${written} of ${line.length} bytes`);
    this.size += line.length;
  }

  /** Everything appended is in SQLite: a file past its size is emptied. */
  applied(): void {
    if (this.fd === null || this.size < JOURNAL_RESET_BYTES) return;
    fs.ftruncateSync(this.fd, 0);
    this.size = 0;
  }

  close(): void {
    if (this.fd === null) return;
    fs.closeSync(this.fd);
    this.fd = null;
  }

  /** Takes a partly written line back; if even that fails, the journal is closed and every write goes to SQLite. */
  private cut(): void {
    try {
      fs.ftruncateSync(this.fd as number, this.size);
    } catch {
      this.close();
    }
  }
}

/**
 * At open, before anything reads the runs: the journal's rows that SQLite may lack (the process ended between a
 * turn's append and its commit) are stored, then the file is emptied. Rows of runs deleted since are left out, and
 * answers of runs that have ended (theirs are dropped at the end). A line that does not parse is the last one, cut
 * by the end of the process during its `write()`: it was never answered. Returns how many lines were replayed.
 */
export function replayWriteJournal(sqlite: Database.Database): number {
  if (sqlite.memory) return 0;
  const file = journalFileOf(sqlite.name);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw err;
  }
  const lines: z.infer<typeof LINE>[] = [];
  for (const raw of text.split("\n")) {
    if (!raw) continue;
    try {
      lines.push(LINE.parse(JSON.parse(raw)));
    } catch {
      // a torn last line
    }
  }
  if (lines.length > 0) {
    const event = sqlite.prepare(
      `insert or ignore into events (run_id, seq, at, actor, type, body)
       select ?, ?, ?, ?, ?, ? where exists (select 1 from runs where id = ?)`,
    );
    const ended = TERMINAL_STATES.map((s) => `'${s}'`).join(", ");
    const answer = sqlite.prepare(
      `insert or replace into request_answers (run_id, instance, request, answer)
       select ?, ?, ?, ? where exists (select 1 from runs where id = ? and state not in (${ended}))`,
    );
    sqlite.transaction(() => {
      for (const line of lines) {
        for (const e of line.e) event.run(...e, e[0]);
        for (const a of line.a) answer.run(...a, a[0]);
      }
    })();
  }
  fs.truncateSync(file, 0);
  return lines.length;
}
