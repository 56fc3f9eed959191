/**
 * Two runs of the same module side by side (`slipstream diff A B`, the compare page): parameter values, how each
 * instance ended, time per state and per instance, report files. Pure: both runs come in folded (run-replay.ts).
 */
import { RUN_STATES, type RunState } from "../protocol/run.js";
import type { InstanceOutcome, RunDiff } from "../protocol/run-replay.js";
import type { ReplayInstance, ReplayState } from "./run-replay.js";

export interface DiffInput {
  id: string;
  owner: string;
  tags: string[];
  replay: ReplayState;
  /** every parameter the run declares, with its category (declared ones that were never set are null) */
  declared: Map<string, RunDiff["params"][number]["category"]>;
}

const ms = (from: string, to: string) => Math.max(0, Date.parse(to) - Date.parse(from));

/** The span of `state` the instance completed it in: the last one entered at or before its completion. */
function enteredBefore(r: ReplayState, state: RunState, at: string): string | null {
  let from: string | null = null;
  for (const s of r.states) if (s.state === state && s.from <= at) from = s.from;
  return from;
}

export function instanceOutcome(r: ReplayState, i: ReplayInstance): InstanceOutcome {
  const done = RUN_STATES.filter((s) => i.completedAt[s] !== undefined);
  const lastCompleted = done.at(-1) ?? null;
  const perStateMs: InstanceOutcome["perStateMs"] = {};
  for (const s of done) {
    const from = enteredBefore(r, s, i.completedAt[s]!);
    if (from) perStateMs[s] = ms(from, i.completedAt[s]!);
  }
  const lastAt = done
    .map((s) => i.completedAt[s]!)
    .sort()
    .at(-1);
  const start = i.startedAt ?? r.createdAt;
  const outcome: InstanceOutcome["outcome"] =
    i.status === "failed"
      ? "failed"
      : i.status === "lost"
        ? "lost"
        : i.status === "removed" || !i.live
          ? "removed"
          : i.problem !== null
            ? "aborted"
            : lastCompleted === null
              ? "unfinished"
              : "completed";
  return {
    outcome,
    lastCompleted,
    detail: i.problem,
    totalMs: lastAt && start ? ms(start, lastAt) : null,
    perStateMs,
  };
}

/** Time spent in each state, a state entered again adding up; the last open span counts to the last event. */
export function stateTimes(r: ReplayState): Map<RunState, number> {
  const out = new Map<RunState, number>();
  for (const s of r.states) out.set(s.state, (out.get(s.state) ?? 0) + ms(s.from, s.to ?? r.at ?? s.from));
  return out;
}

/** A report's name without its upload time (`client.1_report_20261201T083916Z.tgz` → `client.1_report.tgz`). */
export function reportKey(name: string): string {
  return name.replace(/_\d{8}T\d{6}Z(?=\.tgz$)/, "");
}

const byName = (a: string, b: string) => a.localeCompare(b, "en", { numeric: true });

function side(x: DiffInput): RunDiff["a"] {
  const r = x.replay;
  const last = r.states.at(-1);
  const created = r.createdAt ?? r.at ?? new Date(0).toISOString();
  return {
    id: x.id,
    state: r.state ?? "Initializing",
    abort: r.abort,
    createdAt: created,
    durationMs: ms(created, last?.from ?? created),
    owner: x.owner,
    tags: x.tags,
  };
}

/** Throws nothing: the caller checks the runs are of the same module (the diff of two modules means little). */
export function diffRuns(a: DiffInput, b: DiffInput): RunDiff {
  const keys = [...new Set([...a.declared.keys(), ...b.declared.keys()])].sort(byName);
  const params = keys.map((key) => {
    const va = a.replay.params.get(key)?.value ?? null;
    const vb = b.replay.params.get(key)?.value ?? null;
    const inA = a.declared.has(key);
    const inB = b.declared.has(key);
    return {
      key,
      category: a.declared.get(key) ?? b.declared.get(key) ?? "output",
      a: va,
      b: vb,
      inA,
      inB,
      same: inA === inB && va === vb,
    };
  });

  const names = [...new Set([...a.replay.instances.keys(), ...b.replay.instances.keys()])].sort(byName);
  const instances = names.map((name) => {
    const ia = a.replay.instances.get(name);
    const ib = b.replay.instances.get(name);
    const oa = ia ? instanceOutcome(a.replay, ia) : null;
    const ob = ib ? instanceOutcome(b.replay, ib) : null;
    return {
      name,
      a: oa,
      b: ob,
      same: !!oa && !!ob && oa.outcome === ob.outcome && oa.lastCompleted === ob.lastCompleted,
    };
  });

  const ta = stateTimes(a.replay);
  const tb = stateTimes(b.replay);
  const states = RUN_STATES.filter((s) => ta.has(s) || tb.has(s)).map((state) => ({
    state,
    aMs: ta.get(state) ?? null,
    bMs: tb.get(state) ?? null,
  }));

  const reportsOf = (r: ReplayState) =>
    new Map([...r.reports.values()].map((x) => [reportKey(x.name), { name: x.name, size: x.size }]));
  const ra = reportsOf(a.replay);
  const rb = reportsOf(b.replay);
  const reports = [...new Set([...ra.keys(), ...rb.keys()])]
    .sort(byName)
    .map((key) => ({ key, a: ra.get(key) ?? null, b: rb.get(key) ?? null }));

  return { module: a.replay.module ?? "", a: side(a), b: side(b), params, instances, states, reports };
}
