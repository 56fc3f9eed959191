import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { create as createTar } from "tar";
import type { RunEvent } from "../../protocol/run.js";

export function reportTimestamp(date = new Date()): string {
  return date
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
}

function describeEvent(e: RunEvent): string {
  const b = e.body;
  switch (b.type) {
    case "state":
      return `state ${b.from ?? "-"} -> ${b.to}`;
    case "param":
      return `param ${b.key} = ${b.value === null ? "(unset)" : JSON.stringify(b.value)}`;
    case "log":
      return `log ${b.instance} ${b.target} ${b.stream}: ${b.data.trimEnd()}`;
    case "abort":
      return `abort${b.instance ? ` from ${b.instance}` : ""}: ${b.message}${b.first ? "" : " (not first)"}`;
    default:
      return `${b.type} ${JSON.stringify(b)}`;
  }
}

/** Events per page read from the database while writing the report: the whole history is never in memory. */
const PAGE = 2000;

/**
 * The server's own report: the run's full event log (events.json, a JSON array with one event per line) and a
 * readable orchestration log, packed like the nodes' reports. Written page by page from `readPage(since)` (events
 * after `since`, in order; empty when there are no more), yielding between pages so a long history does not hold
 * the event loop. Returns the tarball's size.
 */
export async function writeOrchestratorReport(
  target: string,
  runId: string,
  readPage: (since: number, limit: number) => RunEvent[],
  redact: (text: string) => string = (t) => t,
): Promise<number> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-orch-"));
  try {
    const json = await fs.open(path.join(dir, "events.json"), "w");
    const log = await fs.open(path.join(dir, "orchestrator.log"), "w");
    try {
      await log.write(redact(`run ${runId}\n`));
      await json.write("[");
      let since = 0;
      let first = true;
      for (;;) {
        const page = readPage(since, PAGE);
        if (page.length === 0) break;
        let j = "";
        let l = "";
        for (const e of page) {
          j += `${first ? "\n" : ",\n"}${JSON.stringify(e)}`;
          first = false;
          l += `${e.at} #${e.seq} [${e.actor}] ${describeEvent(e)}\n`;
        }
        await json.write(redact(j));
        await log.write(redact(l));
        since = page[page.length - 1].seq;
        if (page.length < PAGE) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      await json.write("\n]\n");
    } finally {
      await json.close();
      await log.close();
    }
    await fs.mkdir(path.dirname(target), { recursive: true });
    await createTar({ gzip: true, cwd: dir, file: target }, ["events.json", "orchestrator.log"]);
    return (await fs.stat(target)).size;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
