import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { RunEvent } from "../../protocol/run.js";
import { completeThrough, PeerCloud, runReaches, type TestServer } from "../testing/harness.js";
import { serverPerTest, tutorialRun } from "../testing/per-test.js";
import { RunWatcher } from "../testing/watch.js";

/**
 * An ended run leaves memory once more recent ones have ended (run-registry.ts keeps 64); reading it back from SQLite
 * is a task as long as its log is large. The timers a run leaves behind when it ends (an unresponsive agent's grace,
 * the wait-for graph taken after its last events) do not read it back: a run not in memory has ended, so there is
 * nothing for them to do. Here the eviction is `forget`, what the registry does to the 65th ended run.
 */

const t = serverPerTest();

const unresponsive = (instance: string) => (e: RunEvent) =>
  e.body.type === "instance" && e.body.instance === instance && e.body.status === "unresponsive";

/** The tutorial kept in Ready, its two agents connected (a terminate then ends it at once). */
async function keptRun(extra: Record<string, unknown> = {}) {
  const cloud = new PeerCloud();
  const s = await t.boot(cloud);
  const run = await tutorialRun(s, { keepRunning: "always", ...extra });
  const peers = await t.launched(cloud);
  await completeThrough(peers);
  await runReaches(s, run.id, "Ready");
  return { s, run, peers, watcher: new RunWatcher(s.url, s.token, run.id) };
}

async function ended(s: TestServer, runId: string, watcher: RunWatcher): Promise<void> {
  expect((await s.api("POST", `/api/runs/${runId}/terminate`)).status).toBe(200);
  await watcher.ended();
  watcher.close();
}

describe("an ended run out of memory", () => {
  it("is not read back by the wait-for graph taken after its last events", async () => {
    const { s, run, watcher } = await keptRun();
    await ended(s, run.id, watcher);
    // the end's events asked for the graph 300 ms later (wait-monitor.ts): the run has left memory by then
    s.app.runs.forget(run.id);
    await sleep(800);
    expect(s.app.runs.peek(run.id)).toBeUndefined();
    // opening it reads it back, as ever
    expect((await s.api<{ state: string }>("GET", `/api/runs/${run.id}`)).body.state).toBe("Done");
    expect(s.app.runs.peek(run.id)).toBeDefined();
  });

  it("is not read back when the grace of an agent that went away before its end is over", async () => {
    const grace = 2;
    const { s, run, peers, watcher } = await keptRun({ lostAfterSeconds: grace });
    peers[1].close();
    const away = await watcher.until(unresponsive("client.1"));
    await ended(s, run.id, watcher);
    s.app.runs.forget(run.id);
    // past the wait-for graph's look (above), then past the grace the drop started
    await sleep(800);
    s.app.runs.forget(run.id);
    await sleep(Math.max(0, Date.parse(away.at) + grace * 1000 + 700 - Date.now()));
    expect(s.app.runs.peek(run.id)).toBeUndefined();
  });
});
