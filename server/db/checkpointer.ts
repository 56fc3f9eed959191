import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";

/**
 * How long after a commit the worker looks at the WAL: commits in that window share one pass. The worker is told of
 * commits by the WAL file's own change notifications (inotify), so an idle server does no work at all.
 */
const DELAY_MS = 250;

/**
 * A WAL whose part in use is under this many pages (what came since the last pass, once that pass copied all and a
 * commit rewound the WAL) waits for its pass, up to QUIET_PASS_MS after the commit that made it due: SQLite's own
 * checkpoint size. Each pass costs the writers a few slow commits (the main connection lets the database go and takes
 * it back, its commits meanwhile take file locks, and the worker's copy syncs the database file): a pass every 250 ms
 * under a trickle of writes set the wake's p99 (bench/RESULTS.md).
 */
export const PASS_PAGES = 1000;
/** the longest a pass for a small WAL waits after the commit that made it due */
export const QUIET_PASS_MS = 1000;

/**
 * A passive checkpoint copies frames but never rewinds the WAL: that happens when a writer finds every frame copied,
 * which writes that never pause (a recipe flooding its log) never let this worker see — the WAL grew by everything
 * written (~1 GB for a 300 MB flood). Past this size the worker's pass comes at once and asks the main connection
 * to copy the rest itself, between two of its commits (what came since the worker's pass: a short copy on the loop,
 * only under such a flood); its next commit then rewinds the WAL. The size is the WAL's part in use, not its file's:
 * that commit keeps the file as it is (journal_size_limit, open.ts), where trimming it took 5–8 ms on the event loop;
 * the worker truncates a file larger than this once nothing was written for DELAY_MS after a pass that copied it all.
 */
export const WAL_RESET_BYTES = 64 * 1024 * 1024;

/**
 * The main connection's own checkpoint, kept as a backstop: the worker's passes need the worker's thread to be run,
 * and on a loaded machine (CI, a busy server) a flood outran them (a WAL of 129–156 MB against the 64 MiB above).
 * SQLite's automatic checkpoint counts the frames since the WAL was last rewound, so it comes only past this size,
 * which the worker's passes keep the WAL under whenever they are run.
 */
export const WAL_BACKSTOP_BYTES = WAL_RESET_BYTES + 32 * 1024 * 1024;

/**
 * Once the WAL is past WAL_RESET_BYTES the worker copies, pass after pass, what was written during its last pass, until
 * that is at most this many frames (~1 MB): the main connection's own copy, on the event loop, is then about that
 * (0.4–0.8 MB, 1–2 ms under a 270 MB/s flood, where it copied all that came during the worker's one long pass: 8–12
 * MB, 6–9 ms).
 */
const CATCH_UP_FRAMES = 256;
/** at most this many such passes (writes faster than the worker copies never end) */
const CATCH_UP_PASSES = 8;

/**
 * SQLite checkpoints the WAL inside whichever commit crosses 1000 pages: that commit then copies and syncs the
 * database file on the event loop, the writes queued behind it wait (measured: commits over 10 ms were what set
 * the wake p99 at 1,000 instances, bench/RESULTS.md "Limits of one server"). Here the main connection checkpoints
 * only past WAL_BACKSTOP_BYTES; a worker thread with a connection of its own does, in passive mode, so writers are never blocked by
 * it and a reader's open snapshot only defers the copy.
 *
 * Between the worker's passes the main connection holds the database alone (locking_mode EXCLUSIVE): a transaction
 * then takes no file lock, where each took and dropped six (fcntl, a system call each: about a tenth of a woken
 * ss-get's time, bench/RESULTS.md figure 1). For a pass the worker asks, the main connection lets go (locking_mode
 * NORMAL, then a read, which drops the lock), the worker opens its connection, checkpoints, closes it and says so,
 * and the main connection holds the database again from its next transaction. Its commits meanwhile lock as usual.
 */
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const fs = require("node:fs");
let stopped = false;
let pending = null;
// the directory, not the file: SQLite may create the WAL after we start, or make it anew
const path = require("node:path");
const wal = path.basename(workerData.file) + "-wal";
const walFile = workerData.file + "-wal";
// how much of the WAL is in use, not how large its file is: the file is reused from its start after each reset and
// keeps its size (journal_size_limit in open.ts), so its size says only how far the WAL once went
const frameBytes = workerData.pageSize + 24;
const usedBytes = (frames) => 32 + frames * frameBytes;
// the first frame wholly past the reset size: in use once it carries the salts of the WAL's header (a frame left
// from before the last reset carries those of its own time; SQLite's WAL format, sqlite.org/fileformat2.html#walformat)
const resetFrame = Math.ceil((workerData.resetBytes - 32) / frameBytes);
const walFileBytes = () => {
  try {
    return fs.statSync(walFile).size;
  } catch {
    return 0;
  }
};
const head = Buffer.alloc(24);
const frame = Buffer.alloc(24);
const usedPast = (frameIndex) => {
  let fd = null;
  try {
    fd = fs.openSync(walFile, "r");
    if (fs.readSync(fd, head, 0, 24, 0) < 24) return false;
    if (fs.readSync(fd, frame, 0, 24, usedBytes(frameIndex)) < 24) return false;
    return frame.readUInt32BE(8) === head.readUInt32BE(16) && frame.readUInt32BE(12) === head.readUInt32BE(20);
  } catch {
    return false;
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
};
// what tells a WAL write since: its time (coarse: the kernel's clock tick) and its size (an append grows it)
const walStamp = () => {
  try {
    const st = fs.statSync(walFile, { bigint: true });
    return st.mtimeNs + ":" + st.size;
  } catch {
    return null;
  }
};
// watched only while no pass is due: every WAL write is a notification, and each one would wake this thread
// (thousands a second under load, each a thread the scheduler runs beside the server's); one wakes it per pass
let watcher = null;
const watch = () => {
  if (stopped || watcher) return;
  try {
    watcher = fs.watch(path.dirname(workerData.file), { persistent: false }, (_event, name) => {
      if (name === wal) soon();
    });
  } catch (err) {
    // out of inotify watches, or the directory briefly gone: a pass on the timer instead, which watches again
    parentPort.postMessage({ error: String(err && err.message || err) });
    pending = setTimeout(pass, workerData.delayMs);
    return;
  }
  watcher.on("error", (err) => parentPort.postMessage({ error: String(err && err.message || err) }));
};
const unwatch = () => {
  if (watcher) watcher.close();
  watcher = null;
};
// a pass is due: the main connection is asked to let the database go, and answers "go" (below); a small WAL waits
// a while longer (PASS_PAGES), looked at again on the same timer, which a commit cannot wake (not watched meanwhile)
let asked = false;
let dueSince = 0;
const pass = () => {
  pending = null;
  if (stopped || asked) return;
  const waited = Date.now() - dueSince;
  if (!trimming && waited < workerData.quietMs && !usedPast(workerData.passPages)) {
    pending = setTimeout(pass, Math.min(workerData.delayMs, workerData.quietMs - waited));
    return;
  }
  asked = true;
  parentPort.postMessage({ want: true });
};
// a large WAL file's truncation, due once nothing was written for a moment after a pass that copied it all
let trimLater = null;
let trimming = false;
const trimPass = () => {
  trimLater = null;
  if (stopped || pending !== null) return;
  trimming = true;
  pass();
};
// an ordinary pass: what it copied goes in done; whether it copied every frame
const passive = (db, done) => {
  let [r] = db.pragma("wal_checkpoint(PASSIVE)");
  if (r && usedBytes(r.log) > workerData.resetBytes) {
    // the writer copies what came since and rewinds the WAL with its next commit (see WAL_RESET_BYTES): first
    // what came during this pass is copied here, again while that is more than a little, so that its copy (on
    // the event loop) is short
    for (let i = 0; r && i < workerData.catchUpPasses; i++) {
      const [again] = db.pragma("wal_checkpoint(PASSIVE)");
      const came = again ? again.log - r.log : 0;
      r = again;
      if (came <= workerData.catchUpFrames) break;
    }
    done.large = true;
  }
  if (r && r.log > 0) Object.assign(done, { checkpointed: r.checkpointed, log: r.log });
  // frames a reader's snapshot kept back: copied once it is done, without waiting for the next commit
  if (r && r.checkpointed < r.log) pending = setTimeout(pass, workerData.delayMs);
  return !r || r.checkpointed === r.log;
};
const checkpoint = () => {
  asked = false;
  if (stopped) return;
  const before = walStamp();
  const trim = trimming;
  trimming = false;
  // a pass is over, whatever its outcome: the main connection may hold the database alone again
  const done = { atOnce };
  atOnce = false;
  let copiedAll = false;
  let db = null;
  try {
    // opened for the pass only: an open connection, even idle, keeps the main one from holding the database alone
    db = new Database(workerData.file);
    db.pragma("busy_timeout = 1000");
    if (trim) {
      // the server is quiet: the WAL's file back to nothing here, not by a commit on the event loop (open.ts)
      const bytes = walFileBytes();
      const [t] = db.pragma("wal_checkpoint(TRUNCATE)");
      if (t && t.busy === 0) done.trimmed = bytes;
    } else {
      copiedAll = passive(db, done);
    }
  } catch (err) {
    // a full disk or a database being closed: the next commit tries again, the main connection never needed it
    done.error = String(err && err.message || err);
  }
  try {
    if (db) db.close();
  } catch {}
  parentPort.postMessage(done);
  if (pending !== null) return;
  watch();
  // a commit between the checkpoint and the watch above notified no one
  if (walStamp() !== before) soon();
  else if (copiedAll && walFileBytes() > workerData.resetBytes) trimLater = setTimeout(trimPass, workerData.delayMs);
};
// whether the pass now due was made so at once, the WAL's part in use being past its reset size
let atOnce = false;
const soon = () => {
  // a write: not a quiet moment (a truncation already asked for is an ordinary pass)
  if (trimLater !== null) clearTimeout(trimLater);
  trimLater = null;
  trimming = false;
  if (stopped || pending !== null) return;
  unwatch();
  dueSince = Date.now();
  atOnce = usedPast(resetFrame);
  pending = setTimeout(pass, atOnce ? 0 : workerData.delayMs);
};
watch();
soon();
parentPort.on("message", (m) => {
  if (stopped) return;
  if (m === "go") return checkpoint();
  stopped = true;
  unwatch();
  if (pending !== null) clearTimeout(pending);
  if (trimLater !== null) clearTimeout(trimLater);
  parentPort.close();
});
`;

/** The worker's messages: it wants a pass, or (anything else) a pass is over, with what it found. */
interface PassMessage {
  /** the worker would take a pass: the main connection lets the database go */
  want?: boolean;
  large?: boolean;
  atOnce?: boolean;
  trimmed?: number;
  checkpointed?: number;
  log?: number;
  error?: string;
}

/** What a pass reports: the worker's copy, and the main connection's own when the WAL was large. */
export interface PassReport {
  checkpointed?: number;
  log?: number;
  error?: string;
  /** the pass came at once, not after DELAY_MS: the WAL's part in use was past WAL_RESET_BYTES when it was due */
  atOnce?: boolean;
  /** the WAL's file, of that many bytes, truncated to nothing by the worker once the server wrote nothing for a while */
  trimmed?: number;
  /** the rest the main connection copied itself, on the event loop, before its next commit rewound the WAL */
  onLoop?: { frames: number; ms: number };
}

/**
 * Whether the connection holds the database alone. EXCLUSIVE takes effect with its next transaction and is kept from
 * then on; NORMAL only once a transaction ends, so a read ends one at once. Either way nothing is waited for.
 */
function lockingOf(sqlite: Database.Database): (alone: boolean) => void {
  const read = sqlite.prepare("select 1 from sqlite_master limit 1");
  return (alone) => {
    if (!sqlite.open) return;
    sqlite.pragma(`locking_mode = ${alone ? "EXCLUSIVE" : "NORMAL"}`);
    if (!alone) read.get();
  };
}

export interface Checkpointer {
  /** stops the worker and closes its connection (before the main connection closes, which then checkpoints last) */
  stop(): Promise<void>;
}

export function startCheckpointer(
  sqlite: Database.Database,
  file: string,
  onPass?: (p: PassReport) => void,
): Checkpointer {
  if (file === ":memory:") return { stop: async () => undefined };
  const pageSize = sqlite.pragma("page_size", { simple: true }) as number;
  sqlite.pragma(`wal_autocheckpoint = ${Math.ceil(WAL_BACKSTOP_BYTES / pageSize)}`);
  const holdAlone = lockingOf(sqlite);
  holdAlone(true);
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: {
      file,
      driver,
      delayMs: DELAY_MS,
      quietMs: QUIET_PASS_MS,
      passPages: PASS_PAGES,
      resetBytes: WAL_RESET_BYTES,
      pageSize,
      catchUpFrames: CATCH_UP_FRAMES,
      catchUpPasses: CATCH_UP_PASSES,
    },
  });
  worker.unref();
  let stopping = false;
  worker.on("message", (m: PassMessage) => {
    if (!sqlite.open || stopping) return;
    if (m.want) {
      holdAlone(false);
      worker.postMessage("go");
      return;
    }
    holdAlone(true);
    const { checkpointed, log, error, atOnce, trimmed } = m;
    const report: PassReport = { checkpointed, log, error, atOnce, trimmed };
    if (m.large) {
      const start = performance.now();
      const [r] = sqlite.pragma("wal_checkpoint(PASSIVE)") as { log: number; checkpointed: number }[];
      report.onLoop = {
        frames: Math.max(0, (r?.checkpointed ?? 0) - (m.checkpointed ?? 0)),
        ms: performance.now() - start,
      };
    }
    if (log !== undefined || error !== undefined || report.onLoop || trimmed !== undefined) onPass?.(report);
  });
  // a worker that cannot run must not take the server down: SQLite's own checkpoint comes back, and the database is
  // locked per transaction again, as a connection of another thread may need it
  worker.on("error", (err) => {
    if (sqlite.open) {
      sqlite.pragma("wal_autocheckpoint = 1000");
      holdAlone(false);
    }
    onPass?.({ error: err.message });
  });
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  return {
    async stop() {
      stopping = true;
      worker.postMessage("stop");
      await exited;
      holdAlone(false);
    },
  };
}
