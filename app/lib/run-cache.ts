import type { ReportInfo, RunDetail, RunEvent, RunState, RunSummary, RuntimeParam } from "@/protocol/run";

/**
 * How a run's pushed events fold into the REST snapshots react-query holds. Every fold is idempotent and keyed
 * by seq: an event at or below the snapshot's seq is already in it, so snapshots and events may arrive in any
 * order without missing or doubling anything.
 */

export const runKeys = {
  detail: (id: string) => ["run", id, "detail"] as const,
  params: (id: string) => ["run", id, "params"] as const,
  events: (id: string) => ["run", id, "events"] as const,
  reports: (id: string) => ["run", id, "reports"] as const,
  watchers: (id: string) => ["run", id, "watchers"] as const,
  /** why following the run live failed (the subscribe was refused), null while it works */
  feedError: (id: string) => ["run", id, "feed-error"] as const,
};

export interface ParamsSnapshot {
  params: RuntimeParam[];
  lastSeq: number;
}

export function foldDetail(detail: RunDetail, events: readonly RunEvent[]): RunDetail {
  let d = detail;
  for (const e of events) {
    if (e.seq <= d.lastSeq) continue;
    d = { ...d, lastSeq: e.seq, updatedAt: e.at };
    const b = e.body;
    switch (b.type) {
      case "state":
        d.state = b.to;
        d.instances = d.instances.map((i) => (i.completed ? { ...i, completed: false } : i));
        // an expiry holds only while the run is kept in Ready
        if (b.to !== "Ready") d.keptUntil = null;
        break;
      case "kept":
        if (b.until) d.keptUntil = b.until;
        break;
      case "kept-extended":
        d.keptUntil = b.until;
        break;
      case "abort":
        if (d.abort === null) d.abort = b.message;
        break;
      case "abort-reset":
        d.abort = null;
        d.recoveryMode = false;
        break;
      case "recovery-mode":
        d.recoveryMode = b.on;
        break;
      case "instance":
        d.instances = d.instances.map((i) => {
          if (i.name !== b.instance) return i;
          if (b.status === "up") return { ...i, cameUp: true, liveness: "connected" };
          if (b.status === "back") return { ...i, liveness: "connected", unresponsiveSince: null };
          if (b.status === "unresponsive") return { ...i, liveness: "unresponsive", unresponsiveSince: e.at };
          if (b.status === "lost") return { ...i, live: false, liveness: "lost" };
          if (b.status === "completed") return { ...i, completed: true };
          if (b.status === "removed") return { ...i, live: false };
          return i;
        });
        break;
      default:
        break;
    }
  }
  return d;
}

/**
 * Where each key is in a parameter list: built once per list and handed on to the list a fold makes of it (keys keep
 * their places and new ones are appended), not rebuilt per live batch (23,000 entries on a 1,000-instance run).
 */
const keyIndex = new WeakMap<readonly RuntimeParam[], Map<string, number>>();

function indexOfKeys(params: readonly RuntimeParam[]): Map<string, number> {
  let index = keyIndex.get(params);
  if (!index) {
    index = new Map(params.map((p, i) => [p.key, i]));
    keyIndex.set(params, index);
  }
  return index;
}

/** Looks parameters up by key through the list's key index (kept across folds): no map built per live batch. */
export function paramLookup(params: readonly RuntimeParam[]): { get(key: string): RuntimeParam | undefined } {
  const index = indexOfKeys(params);
  return {
    get: (key) => {
      const at = index.get(key);
      return at === undefined ? undefined : params[at];
    },
  };
}

export function foldParams(snapshot: ParamsSnapshot, events: readonly RunEvent[]): ParamsSnapshot {
  let params: RuntimeParam[] | null = null;
  let index: Map<string, number> | null = null;
  let ownIndex = false;
  let lastSeq = snapshot.lastSeq;
  for (const e of events) {
    if (e.body.type !== "param") continue;
    if (!params) {
      params = [...snapshot.params];
      index = indexOfKeys(snapshot.params);
    }
    const at = index!.get(e.body.key);
    if (at === undefined) {
      if (e.seq <= snapshot.lastSeq) continue;
      // the snapshot's own index must stay as it is: copied before a key is added
      if (!ownIndex) {
        index = new Map(index);
        ownIndex = true;
      }
      index!.set(e.body.key, params.length);
      params.push({ key: e.body.key, value: e.body.value, category: "output", description: "", updatedSeq: e.seq });
    } else if (e.seq > params[at].updatedSeq) {
      params[at] = { ...params[at], value: e.body.value, updatedSeq: e.seq };
    }
    lastSeq = Math.max(lastSeq, e.seq);
  }
  if (!params) return snapshot;
  if (index) keyIndex.set(params, index);
  return { params, lastSeq };
}

export function foldReports(reports: ReportInfo[], events: readonly RunEvent[]): ReportInfo[] {
  let out: ReportInfo[] | null = null;
  for (const e of events) {
    if (e.body.type !== "report") continue;
    const b = e.body;
    const list: ReportInfo[] = out ?? reports;
    if (list.some((r) => r.name === b.name)) continue;
    out = [...list, { name: b.name, instance: b.instance, size: b.size, createdAt: e.at }];
  }
  return out ?? reports;
}

/**
 * Applies a `runs:changed` push to one cached run list; null when the run is not in it. A push at or below the
 * row's seq is older than what the list already shows (a late push, or a list fetched after it) and leaves the
 * list as it is (the same array).
 */
export function foldRunsChanged(
  runs: RunSummary[],
  msg: { runId: string; state: RunState; abort: string | null; seq: number },
): RunSummary[] | null {
  const i = runs.findIndex((r) => r.id === msg.runId);
  if (i < 0) return null;
  if (msg.seq <= runs[i].lastSeq) return runs;
  const next = [...runs];
  next[i] = { ...next[i], state: msg.state, abort: msg.abort, lastSeq: msg.seq };
  return next;
}

/** Log bytes per instance a watching browser keeps: its first half and its last half, like the server. */
const BROWSER_LOG_BYTES = 4 * 1024 * 1024;

/**
 * Appends a batch to a run's event list and, when an instance's log chunks outgrow `limit`, drops its oldest chunks
 * after the head (the first half), so a tab left open on a flooding run keeps a bounded list. The server's own
 * "log-dropped" marker still says how much is missing there; what this drops is only what the tab had seen live.
 */
export function appendEvents(old: readonly RunEvent[], batch: readonly RunEvent[], limit = BROWSER_LOG_BYTES) {
  const all = [...old, ...batch];
  // what this function returned is within the limit: a batch with no log chunk leaves it so (no pass over the
  // whole list per live batch of a 40,000-event run)
  const mark = (list: RunEvent[]) => {
    if (limit === BROWSER_LOG_BYTES) withinLimit.add(list);
    return list;
  };
  if (limit === BROWSER_LOG_BYTES && withinLimit.has(old) && !batch.some((e) => e.body.type === "log"))
    return mark(all);
  const bytes = new Map<string, number>();
  for (const e of all)
    if (e.body.type === "log") bytes.set(e.body.instance, (bytes.get(e.body.instance) ?? 0) + e.body.data.length);
  const over = [...bytes].filter(([, n]) => n > limit);
  if (over.length === 0) return mark(all);
  const half = Math.floor(limit / 2);
  const drop = new Set<number>();
  for (const [instance, total] of over) {
    let head = 0;
    let excess = total - limit;
    let headClosed = false;
    for (const e of all) {
      if (e.body.type !== "log" || e.body.instance !== instance) continue;
      const n = e.body.data.length;
      if (!headClosed && head + n <= half) {
        head += n;
        continue;
      }
      headClosed = true;
      if (excess <= 0) break;
      drop.add(e.seq);
      excess -= n;
    }
  }
  return mark(all.filter((e) => !drop.has(e.seq)));
}

/** Lists appendEvents returned, whose log chunks it counted: within the default limit they were built with. */
const withinLimit = new WeakSet<readonly RunEvent[]>();
