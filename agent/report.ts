import { constants, createReadStream } from "node:fs";
import { copyFile, mkdir, readdir, stat } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "tar";
import { pinnedAgent } from "./tls-pin.js";

/** Filesystem-safe UTC time, e.g. `20250102T030405Z`. */
function compactTimestamp(date = new Date()): string {
  return date
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
}

/** Per instance: one host process serves many agents, and one agent's reports say nothing of another's. */
const lastStamps = new Map<string, { stamp: string; sameSecond: number }>();
/**
 * The stamp of an instance's next report: SlipStream's second-resolution timestamp, with `-2`, `-3`… for its second
 * report in the same second (a report at SendingReports, then another as the instance is removed by a scale), so
 * one never replaces the other. Other instances' reports (their names hold their own instance) are not counted.
 */
export function reportStamp(instance: string, date = new Date()): string {
  const stamp = compactTimestamp(date);
  const last = lastStamps.get(instance);
  const sameSecond = last?.stamp === stamp ? last.sameSecond + 1 : 1;
  lastStamps.set(instance, { stamp, sameSecond });
  return sameSecond === 1 ? stamp : `${stamp}-${sameSecond}`;
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
  // never onto a name that is there already: the recipes own the directory, and a link they left there must not
  // lead a host process serving them as root (agent/host.ts) to write elsewhere
  await copyFile(logFile, path.join(reportDir, logName), constants.COPYFILE_EXCL).catch(() => undefined);
  // past half its limit the log goes on in tail files (log-sink.ts): the report holds them beside it
  for (const tail of [".tail.1", ".tail"]) {
    await copyFile(`${logFile}${tail}`, path.join(reportDir, `${logName}${tail}`), constants.COPYFILE_EXCL).catch(
      () => undefined,
    );
  }
  const entries = await readdir(reportDir);
  await create({ gzip: true, cwd: reportDir, file: tarball, portable: true }, entries);
}

interface UploadTarget {
  serviceUrl: string;
  token: string;
  /** the server's certificate fingerprint: the token is only ever sent to a server presenting it */
  serverCertSha256?: string;
}

/** How uploads are retried while the server is away (restarting): back-off from firstMs doubling up to maxMs. */
interface UploadRetry {
  firstMs: number;
  maxMs: number;
  /** give up once this long has passed since the first try */
  totalMs: number;
}

const DEFAULT_RETRY: UploadRetry = { firstMs: 500, maxMs: 5000, totalMs: 600_000 };

/**
 * One POST of the file. node:http rather than fetch: fetch loads undici on first use, ~25 ms of CPU in every
 * agent at the same moment when a whole run sends its reports.
 */
function postFile(
  url: URL,
  token: string,
  file: string,
  size: number,
  agent: https.Agent | undefined,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === "https:" ? https : http).request(
      url,
      {
        method: "POST",
        ...(agent ? { agent } : {}),
        headers: { authorization: `Bearer ${token}`, "content-type": "application/gzip", "content-length": size },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          if (body.length < 500) body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    const source = createReadStream(file);
    source.on("error", (err) => req.destroy(err));
    source.pipe(req);
  });
}

/**
 * Uploads, retrying server errors and lost connections until `retry.totalMs` has passed (by default as long as
 * the ss-* commands wait for a lost server, SLIPSTREAM_SERVER_WAIT): a server restart during SendingReports must
 * not cost the run a report. Client errors are final. Returns an error text, or null on success.
 */
export async function uploadReport(
  target: UploadTarget,
  file: string,
  name: string,
  retry: UploadRetry = DEFAULT_RETRY,
): Promise<string | null> {
  const url = new URL(`${target.serviceUrl}/api/agent/reports?name=${encodeURIComponent(name)}`);
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (err) {
    // a file that is not there will not appear on retry
    return (err as Error).message;
  }
  const agent = target.serverCertSha256 && url.protocol === "https:" ? pinnedAgent(target.serverCertSha256) : undefined;
  const giveUpAt = Date.now() + retry.totalMs;
  for (let delay = retry.firstMs; ; delay = Math.min(delay * 2, retry.maxMs)) {
    let lastError: string;
    try {
      const res = await postFile(url, target.token, file, size, agent);
      if (res.status >= 200 && res.status < 300) return null;
      lastError = `HTTP ${res.status}: ${res.body.slice(0, 500)}`;
      // client errors will not change on retry
      if (res.status < 500) return lastError;
      // the server is up but cannot store it now (disk full, read-only): kept and retried until it can, however long
      if (res.status === 507 || (res.status === 503 && /"code":"UNAVAILABLE","message":"storage /.test(res.body))) {
        await sleep(delay);
        continue;
      }
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (Date.now() + delay > giveUpAt) return lastError;
    await sleep(delay);
  }
}
