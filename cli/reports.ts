import fs from "node:fs/promises";
import path from "node:path";
import * as tar from "tar";
import { API } from "../protocol/catalog/index.js";
import type { ReportInfo } from "../protocol/run.js";
import type { ApiClient } from "./api-client.js";
import { CliError, EXIT } from "./errors.js";

export interface DownloadedReport extends ReportInfo {
  /** the tarball */
  file: string;
  /** where it was unpacked: a folder named after the tarball */
  dir: string;
  /** entries left out of the folder: anything but files and directories (`path (SymbolicLink → target)`) */
  skipped: string[];
}

const FILE_TYPES = new Set(["File", "OldFile", "ContiguousFile"]);

/**
 * Unpacks a report tarball into `dir`: files and directories only. What a recipe (any member) or a stolen agent
 * token put in a report must not reach outside the folder or gain rights there: a symlink (or hard link) would point
 * a later step that writes "into the report folder" anywhere, and as root node-tar would keep the entries' owners
 * and their set-uid bits. Files get 0644 (0755 when executable by anyone), directories 0755; owners are the caller.
 * Returns the entries left out.
 */
export async function unpackReport(file: string, dir: string): Promise<string[]> {
  const skipped: string[] = [];
  await tar.x({
    file,
    cwd: dir,
    preserveOwner: false,
    filter: (p, entry) => {
      const e = entry as tar.ReadEntry;
      if (FILE_TYPES.has(e.type)) {
        e.mode = (e.mode ?? 0) & 0o111 ? 0o755 : 0o644;
        return true;
      }
      if (e.type === "Directory") {
        e.mode = 0o755;
        return true;
      }
      skipped.push(`${p} (${e.type}${e.linkpath ? ` → ${e.linkpath}` : ""})`);
      return false;
    },
  });
  return skipped;
}

/** Downloads every report of a run into `<out>/<runId>/` and unpacks each tarball beside it. */
export async function downloadReports(api: ApiClient, runId: string, out: string): Promise<DownloadedReport[]> {
  const { reports } = await api.call(API.runReports, { params: { id: runId } });
  const root = path.resolve(out, runId);
  await fs.mkdir(root, { recursive: true });
  const done: DownloadedReport[] = [];
  for (const r of reports) {
    // names come from the server; never let one leave the folder
    if (path.basename(r.name) !== r.name || r.name.startsWith(".")) {
      throw new CliError(EXIT.UNREACHABLE, `server sent an unsafe report name '${r.name}'`);
    }
    const file = path.join(root, r.name);
    await api.download(API.downloadReport, { params: { id: runId, name: r.name } }, file);
    const dir = path.join(root, r.name.replace(/\.(tgz|tar\.gz)$/, ""));
    await fs.mkdir(dir, { recursive: true });
    let skipped: string[];
    try {
      skipped = await unpackReport(file, dir);
    } catch (err) {
      throw new CliError(EXIT.UNREACHABLE, `cannot unpack ${file}: ${(err as Error).message}`);
    }
    done.push({ ...r, file, dir, skipped });
  }
  return done;
}

/** Downloads every report of a run as one gzipped tarball (`<run id>/<report>.tgz` inside) into `file`. */
export async function downloadArchive(api: ApiClient, runId: string, file: string): Promise<number> {
  const target = path.resolve(file);
  await fs.mkdir(path.dirname(target), { recursive: true });
  await api.download(API.downloadReportsArchive, { params: { id: runId } }, target);
  return (await fs.stat(target)).size;
}
