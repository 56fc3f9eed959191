import { SlipError } from "../protocol/errors.js";

/** better-sqlite3 and node:fs codes that say the data directory cannot take writes (not a bug of the request). */
const FULL = new Set(["SQLITE_FULL", "ENOSPC", "EDQUOT"]);
const READ_ONLY = /^(SQLITE_READONLY|EROFS$)/;
const IO = /^SQLITE_IOERR/;

/** What kind of storage failure `err` is, or null when it is something else. */
export function storageTrouble(err: unknown): "full" | "read-only" | "io-error" | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return null;
  if (FULL.has(code)) return "full";
  if (READ_ONLY.test(code)) return "read-only";
  if (IO.test(code)) return "io-error";
  return null;
}

/**
 * The wire error for a storage failure, or null when `err` is something else: a full disk is STORAGE_FULL (507), a
 * read-only database or file system or an I/O error UNAVAILABLE (503), each naming the cause, so clients see why
 * and agents keep what they sent and retry (rather than an INTERNAL they would take as final).
 */
export function storageError(err: unknown): SlipError | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return null;
  const detail = `${code}: ${(err as Error).message}`.slice(0, 300);
  if (FULL.has(code)) {
    return new SlipError(
      "STORAGE_FULL",
      `storage full: the server's data directory has no space left (${detail}); nothing was stored, retry later`,
    );
  }
  if (READ_ONLY.test(code)) {
    return new SlipError(
      "UNAVAILABLE",
      `storage read-only: the server cannot write its data directory (${detail}); nothing was stored, retry later`,
    );
  }
  if (IO.test(code)) {
    return new SlipError(
      "UNAVAILABLE",
      `storage I/O error: the server could not write its data directory (${detail}); retry later`,
    );
  }
  return null;
}
