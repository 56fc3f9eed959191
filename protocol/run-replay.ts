import { z } from "zod";
import { ReportInfo, RunDetail, RunState, RuntimeParam } from "./run";

/**
 * A run as it was just after one event of its log (the run page's time slider, `?at=<seq>`): the same shapes as
 * the live page's detail, parameters and reports, so the page shows a past moment with the components it shows the
 * present with. Logs and events are the event log itself, cut at `at`.
 */
export const RunReplay = z.object({
  /** the seq replayed up to (the last event at or before the one asked for) */
  at: z.number().int(),
  /** the run's last seq now: the slider's end */
  lastSeq: z.number().int(),
  /** when event `at` happened (ISO) */
  time: z.string().nullable(),
  detail: RunDetail,
  params: z.array(RuntimeParam),
  reports: z.array(ReportInfo),
  /** the seqs of the run's state changes up to now, for marks on the slider */
  marks: z.array(z.object({ seq: z.number().int(), state: RunState, at: z.string() })),
});
export type RunReplay = z.infer<typeof RunReplay>;

export const ReplayQuery = z.strictObject({
  at: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});

export const INSTANCE_OUTCOMES = ["completed", "aborted", "failed", "lost", "removed", "unfinished"] as const;

/** How one instance of a run ended, and how long it took. */
export const InstanceOutcome = z.object({
  /** completed: no abort of its own, no failure, and it completed the states it was in */
  outcome: z.enum(INSTANCE_OUTCOMES),
  /** the furthest state it completed */
  lastCompleted: RunState.nullable(),
  /** its own abort message or failure */
  detail: z.string().nullable(),
  /** from its machine being asked for to its last completion (ms), null when it completed nothing */
  totalMs: z.number().int().nullable(),
  /** per state it completed: ms from the run entering that state to this instance completing it */
  perStateMs: z.partialRecord(RunState, z.number().int()),
});
export type InstanceOutcome = z.infer<typeof InstanceOutcome>;

const DiffSide = z.object({
  id: z.string(),
  state: RunState,
  abort: z.string().nullable(),
  createdAt: z.string(),
  /** from its creation to its last state change (ms) */
  durationMs: z.number().int(),
  owner: z.string(),
  tags: z.array(z.string()),
});

/** Two runs of the same module side by side: `a` and `b` are each side's value (null: that run has none). */
export const RunDiff = z.object({
  module: z.string(),
  a: DiffSide,
  b: DiffSide,
  params: z.array(
    z.object({
      key: z.string(),
      category: RuntimeParam.shape.category,
      a: z.string().nullable(),
      b: z.string().nullable(),
      /** whether the run declares the key at all (an instance only one run has) */
      inA: z.boolean(),
      inB: z.boolean(),
      same: z.boolean(),
    }),
  ),
  instances: z.array(
    z.object({
      name: z.string(),
      a: InstanceOutcome.nullable(),
      b: InstanceOutcome.nullable(),
      /** the same outcome and last completed state */
      same: z.boolean(),
    }),
  ),
  /** time spent in each state (ms; a state entered again, after a scale, adds up) */
  states: z.array(z.object({ state: RunState, aMs: z.number().int().nullable(), bMs: z.number().int().nullable() })),
  /** reports matched by instance and name without their upload time */
  reports: z.array(
    z.object({
      key: z.string(),
      a: z.object({ name: z.string(), size: z.number().int() }).nullable(),
      b: z.object({ name: z.string(), size: z.number().int() }).nullable(),
    }),
  ),
});
export type RunDiff = z.infer<typeof RunDiff>;

export const RunPair = z.object({ id: z.string().min(1).max(100), other: z.string().min(1).max(100) });
