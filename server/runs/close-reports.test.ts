import fs from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { completeThrough, PeerCloud, runReaches as reaches } from "../testing/harness.js";
import { serverPerTest, tutorialRun } from "../testing/per-test.js";

const t = serverPerTest();

function reportFiles(dataDir: string, runId: string): string[] {
  const dir = path.join(dataDir, "reports", runId);
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

function listedReports(dataDir: string, runId: string): string[] {
  const db = new Database(path.join(dataDir, "slipstream.db"), { readonly: true });
  try {
    const rows = db.prepare("select name from reports where run_id = ? order by name").all(runId) as { name: string }[];
    return rows.map((r) => r.name);
  } finally {
    db.close();
  }
}

describe("a server closing while an orchestrator report is being written", () => {
  it("finishes and lists the report before its database closes: no tarball lands after the close", async () => {
    const cloud = new PeerCloud();
    const s = await t.boot(cloud);
    const run = await tutorialRun(s, { keepRunning: "always" });
    const peers = await t.launched(cloud);
    // a long log: the report reads it in pages of 2,000 events, yielding between them, so it is still being written
    // when the close comes (with 6,000 events it was done before the close reached the database)
    const rt = s.app.runs.get(run.id);
    for (let i = 1; i <= 30_000; i++) {
      s.app.runs.appendLog(rt, "apache.1", { chunk: i, target: "deployment", stream: "stdout", data: `line ${i}\n` });
    }
    await completeThrough(peers);
    // kept in Ready: its orchestrator report starts with the commit that keeps it, and the server closes at once
    await reaches(s, run.id, "Ready");
    const { dataDir } = s;
    await t.stop();

    const atClose = reportFiles(dataDir, run.id);
    expect(atClose).toEqual([expect.stringMatching(/^orchestrator_report_\w+\.tgz$/)]);
    expect(listedReports(dataDir, run.id)).toEqual(atClose);
    // nothing of the closed server still writes there
    await sleep(300);
    expect(reportFiles(dataDir, run.id)).toEqual(atClose);
  });
});
