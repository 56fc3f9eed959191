import { expect } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import type { TestServer } from "./harness.js";
import { RunWatcher } from "./watch.js";

/**
 * Creates a run (`keepRunning: never` unless `body` says otherwise) with a watcher of its events from the start, kept
 * in `watchers` for the test file's afterAll to close.
 */
export async function watchedRun(
  s: TestServer,
  watchers: RunWatcher[],
  body: Record<string, unknown>,
): Promise<{ run: RunDetail; w: RunWatcher }> {
  const res = await s.api<RunDetail>("POST", "/api/runs", { keepRunning: "never", ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const w = new RunWatcher(s.url, s.token, res.body.id);
  watchers.push(w);
  return { run: res.body, w };
}
