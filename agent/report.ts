import { openAsBlob } from "node:fs";
import { copyFile, mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "tar";

/** Filesystem-safe UTC time, e.g. `20250102T030405Z`. */
export function compactTimestamp(date = new Date()): string {
  return date
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
}

/** A fresh `<reports>/<timestamp>` directory (suffixed when two reports fall in the same second). */
export async function makeReportDir(reportsRoot: string, stamp: string): Promise<string> {
  for (let n = 1; ; n++) {
    const dir = path.join(reportsRoot, n === 1 ? stamp : `${stamp}-${n}`);
    try {
      await mkdir(dir, { recursive: false });
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}

/**
 * Packs the report directory's files plus the instance log (as `slipstream.log`, or
 * `slipstream.agent.log` when the report already holds a file of that name) into a gzipped tarball.
 */
export async function packReport(reportDir: string, logFile: string, tarball: string): Promise<void> {
  const existing = new Set(await readdir(reportDir));
  const logName = existing.has("slipstream.log") ? "slipstream.agent.log" : "slipstream.log";
  await copyFile(logFile, path.join(reportDir, logName)).catch(() => undefined);
  const entries = await readdir(reportDir);
  await create({ gzip: true, cwd: reportDir, file: tarball, portable: true }, entries);
}

export interface UploadTarget {
  serviceUrl: string;
  token: string;
}

const ATTEMPTS = 6;

/**
 * Uploads with a few retries spaced 0.5, 1, 2, 4, 8 s apart: the server may be restarting.
 * Returns an error text, or null on success.
 */
export async function uploadReport(target: UploadTarget, file: string, name: string): Promise<string | null> {
  const url = `${target.serviceUrl}/api/agent/reports?name=${encodeURIComponent(name)}`;
  let lastError = "";
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { authorization: `Bearer ${target.token}`, "content-type": "application/gzip" },
        body: await openAsBlob(file),
      });
      if (res.ok) return null;
      lastError = `HTTP ${res.status}: ${(await res.text()).slice(0, 500)}`;
      // client errors will not change on retry
      if (res.status < 500) return lastError;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (attempt < ATTEMPTS) await sleep(500 * 2 ** (attempt - 1));
  }
  return lastError;
}
