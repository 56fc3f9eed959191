import fs from "node:fs/promises";
import path from "node:path";
import * as tar from "tar";
import type { ReportInfo } from "../protocol/run.js";
import type { ApiClient } from "./api-client.js";
import { CliError, EXIT } from "./errors.js";

export interface DownloadedReport extends ReportInfo {
  /** the tarball */
  file: string;
  /** where it was unpacked: a folder named after the tarball */
  dir: string;
}

/** Downloads every report of a run into `<out>/<runId>/` and unpacks each tarball beside it. */
export async function downloadReports(api: ApiClient, runId: string, out: string): Promise<DownloadedReport[]> {
  const id = encodeURIComponent(runId);
  const { reports } = await api.get<{ reports: ReportInfo[] }>(`/api/runs/${id}/reports`);
  const root = path.resolve(out, runId);
  await fs.mkdir(root, { recursive: true });
  const done: DownloadedReport[] = [];
  for (const r of reports) {
    // names come from the server; never let one leave the folder
    if (path.basename(r.name) !== r.name || r.name.startsWith(".")) {
      throw new CliError(EXIT.UNREACHABLE, `server sent an unsafe report name '${r.name}'`);
    }
    const file = path.join(root, r.name);
    await api.download(`/api/runs/${id}/reports/${encodeURIComponent(r.name)}`, file);
    const dir = path.join(root, r.name.replace(/\.(tgz|tar\.gz)$/, ""));
    await fs.mkdir(dir, { recursive: true });
    try {
      await tar.x({ file, cwd: dir });
    } catch (err) {
      throw new CliError(EXIT.UNREACHABLE, `cannot unpack ${file}: ${(err as Error).message}`);
    }
    done.push({ ...r, file, dir });
  }
  return done;
}
