import { diffRuns } from "../../core/run-diff.js";
import { applyEvent, emptyReplay, type ReplayState } from "../../core/run-replay.js";
import { SlipError } from "../../protocol/errors.js";
import type { RunEventBody } from "../../protocol/run.js";
import type { RunDiff, RunReplay } from "../../protocol/run-replay.js";
import { replayView } from "../../protocol/run-replay-view.js";
import type { Db } from "../db/open.js";
import type { RunRuntime } from "./runtime.js";
import type { RunService } from "./service.js";

const PAGE = 2000;

/**
 * Folds a run's log up to `at`, a page at a time. Log chunks are skipped in SQL: they are most of a log's bytes and
 * change nothing a replay shows but the dropped-bytes count, which `log-dropped` events carry.
 */
export function foldRun(db: Db, runId: string, at = Number.MAX_SAFE_INTEGER): ReplayState {
  const page = db.$client.prepare(
    "select seq, at, actor, body from events where run_id = ? and seq > ? and seq <= ? and type != 'log' order by seq limit ?",
  );
  const s = emptyReplay();
  let since = 0;
  for (;;) {
    const rows = page.all(runId, since, at, PAGE) as { seq: number; at: string; actor: string; body: string }[];
    for (const r of rows) {
      applyEvent(s, { runId, seq: r.seq, at: r.at, actor: r.actor, body: JSON.parse(r.body) as RunEventBody });
    }
    if (rows.length < PAGE) break;
    since = rows[rows.length - 1].seq;
  }
  return s;
}

/** The seq and time of the last event at or before `at` (a log chunk counts: the slider moves over every event). */
function eventAt(db: Db, runId: string, at: number): { seq: number; at: string } | null {
  return (
    (db.$client
      .prepare("select seq, at from events where run_id = ? and seq <= ? order by seq desc limit 1")
      .get(runId, at) as { seq: number; at: string } | undefined) ?? null
  );
}

/** A run as it was just after event `at`, in the shapes the live run page reads (protocol/run-replay-view.ts). */
export function replayAt(runs: RunService, rt: RunRuntime, asked: number): RunReplay {
  const target = eventAt(runs.db, rt.id, Math.min(asked, rt.lastSeq));
  const seq = target?.seq ?? 0;
  return replayView({
    detail: runs.detail(rt),
    declared: [...rt.params.entries()].map(([key, p]) => ({ key, category: p.category, description: p.description })),
    fold: foldRun(runs.db, rt.id, seq),
    at: seq,
    time: target?.at ?? null,
    lastSeq: rt.lastSeq,
    marks: readStates(runs.db, rt.id),
  });
}

function readStates(db: Db, runId: string): RunReplay["marks"] {
  const rows = db.$client
    .prepare("select seq, at, body from events where run_id = ? and type = 'state' order by seq")
    .all(runId) as { seq: number; at: string; body: string }[];
  return rows.map((r) => ({
    seq: r.seq,
    at: r.at,
    state: (JSON.parse(r.body) as Extract<RunEventBody, { type: "state" }>).to,
  }));
}

/** Two runs of one module compared (core/run-diff.ts); runs of different modules are refused, naming `other`. */
export function compareRuns(runs: RunService, a: RunRuntime, b: RunRuntime): RunDiff {
  if (a.spec.module !== b.spec.module) {
    const why = `run ${b.id} is of ${b.spec.module}, run ${a.id} of ${a.spec.module}: compare runs of the same module`;
    throw new SlipError("BAD_REQUEST", why, { other: why });
  }
  const input = (rt: RunRuntime) => ({
    id: rt.id,
    owner: rt.owner,
    tags: rt.tags,
    replay: foldRun(runs.db, rt.id),
    declared: new Map([...rt.params.entries()].map(([key, p]) => [key, p.category])),
  });
  return diffRuns(input(a), input(b));
}
