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

/**
 * The server's own report: the run's full event log (events.json) and a readable orchestration log,
 * packed like the nodes' reports. Returns the tarball's size.
 */
export async function writeOrchestratorReport(
  target: string,
  runId: string,
  events: RunEvent[],
  redact: (text: string) => string = (t) => t,
): Promise<number> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-orch-"));
  try {
    await fs.writeFile(path.join(dir, "events.json"), redact(JSON.stringify(events, null, 1)));
    const lines = events.map((e) => `${e.at} #${e.seq} [${e.actor}] ${describeEvent(e)}`);
    await fs.writeFile(path.join(dir, "orchestrator.log"), redact(`run ${runId}\n${lines.join("\n")}\n`));
    await fs.mkdir(path.dirname(target), { recursive: true });
    await createTar({ gzip: true, cwd: dir, file: target }, ["events.json", "orchestrator.log"]);
    return (await fs.stat(target)).size;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
