import { once } from "node:events";
import type { ServerResponse } from "node:http";
import type { RunSnapshot } from "../../protocol/snapshot.js";
import { SNAPSHOT_FORMAT } from "../../protocol/snapshot.js";
import type { AppContext } from "../context.js";
import { readEvents } from "../runs/event-log.js";
import type { RunRuntime } from "../runs/runtime.js";
import { listReports } from "./store.js";

const PAGE_EVENTS = 1000;
const PAGE_BYTES = 4 * 1024 * 1024;

/**
 * Streams a run's snapshot as JSON: the run, parameters and reports first (small), then its events a page at a
 * time, so a run with hundreds of megabytes of logs is never held whole in memory. The events are those up to the
 * run's last seq when the export began: a snapshot of a live run is the run at that moment.
 */
export async function streamSnapshot(app: AppContext, rt: RunRuntime, who: string, res: ServerResponse): Promise<void> {
  const upTo = rt.lastSeq;
  const head: Omit<RunSnapshot, "events"> = {
    format: SNAPSHOT_FORMAT,
    version: 1,
    exportedAt: new Date().toISOString(),
    exportedBy: who,
    run: app.runs.detail(rt),
    params: [...rt.params.entries()]
      .map(([key, p]) => ({ key, value: p.value, category: p.category, description: p.description, updatedSeq: p.seq }))
      .sort((a, b) => a.key.localeCompare(b.key)),
    reports: listReports(app.db, rt.id),
  };
  const write = async (chunk: string) => {
    if (!res.write(chunk)) await Promise.race([once(res, "drain"), once(res, "close")]);
  };
  await write(`${JSON.stringify(head).slice(0, -1)},"events":[`);
  let since = 0;
  let first = true;
  while (since < upTo && !res.destroyed) {
    const page = readEvents(app.db, rt.id, since, PAGE_EVENTS, undefined, PAGE_BYTES).filter((e) => e.seq <= upTo);
    if (page.length === 0) break;
    await write((first ? "" : ",") + page.map((e) => JSON.stringify(e)).join(","));
    first = false;
    since = page[page.length - 1].seq;
  }
  res.end("]}\n");
}
