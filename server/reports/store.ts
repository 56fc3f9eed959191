import { createReadStream, createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as tar from "tar";
import { fieldError, SlipError } from "../../protocol/errors.js";
import type { ReportInfo } from "../../protocol/run.js";
import type { Db } from "../db/open.js";

export const REPORT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*_report_[A-Za-z0-9_.:-]+\.tgz$/;
const MAX_REPORT_BYTES = 200 * 1024 * 1024;

/** Report tarballs live as files under DATA_DIR/reports/<run>/; the database lists them. */
export class ReportFiles {
  constructor(private readonly root: string) {}

  dir(runId: string): string {
    return path.join(this.root, runId);
  }

  file(runId: string, name: string): string {
    if (!REPORT_NAME_RE.test(name)) throw fieldError("name", `'${name}' is not a report file name`);
    return path.join(this.dir(runId), name);
  }

  /** Streams a body to disk (fsynced: an acknowledged report is never lost); returns its size. */
  async write(runId: string, name: string, body: Readable, maxBytes = MAX_REPORT_BYTES): Promise<number> {
    const target = this.file(runId, name);
    await fs.mkdir(this.dir(runId), { recursive: true, mode: 0o700 });
    const partial = `${target}.partial`;
    let size = 0;
    body.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        body.destroy(
          new SlipError(
            "PAYLOAD_TOO_LARGE",
            `body: the report is larger than ${maxBytes} bytes, the limit ('reportBytes')`,
          ),
        );
      }
    });
    try {
      await pipeline(body, createWriteStream(partial, { mode: 0o600 }));
      await checkTarball(partial);
      const handle = await fs.open(partial, "r+");
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(partial, target);
    } catch (err) {
      // a cut-off upload (the client hung up, or it outgrew the cap) must not leave its bytes on disk
      await fs.rm(partial, { force: true });
      if (err instanceof SlipError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ECONNRESET" || code === "ERR_STREAM_PREMATURE_CLOSE") {
        throw new SlipError("BAD_REQUEST", "body: the upload ended before its last byte");
      }
      throw err;
    }
    return size;
  }

  read(runId: string, name: string): Readable {
    return createReadStream(this.file(runId, name));
  }

  /** The report's bytes, or null when its file is gone (pruned, or removed by hand). */
  async open(runId: string, name: string): Promise<Readable | null> {
    const handle = await fs.open(this.file(runId, name), "r").catch(() => null);
    return handle ? handle.createReadStream() : null;
  }
}

/**
 * A report is a gzip tarball (people download and unpack it; the orchestrator report bundles it): the gzip magic
 * bytes, then a tar that lists to its end without a damaged or truncated entry.
 */
async function checkTarball(file: string): Promise<void> {
  const handle = await fs.open(file, "r");
  const magic = Buffer.alloc(2);
  try {
    await handle.read(magic, 0, 2, 0);
  } finally {
    await handle.close();
  }
  if (magic[0] !== 0x1f || magic[1] !== 0x8b) throw new SlipError("BAD_REQUEST", "body: not gzip (a report is a .tgz)");
  try {
    await tar.t({ file, strict: true });
  } catch (err) {
    throw new SlipError("BAD_REQUEST", `body: not a readable gzip tarball (${(err as Error).message.slice(0, 200)})`);
  }
}

/** A run's reports as the API lists them, oldest first (the list route and a run's snapshot). */
export function listReports(db: Db, runId: string): ReportInfo[] {
  const rows = db.$client
    .prepare("select name, instance, size, created_at from reports where run_id = ? order by created_at, name")
    .all(runId) as { name: string; instance: string | null; size: number; created_at: string }[];
  return rows.map((r) => ({ name: r.name, instance: r.instance, size: r.size, createdAt: r.created_at }));
}
