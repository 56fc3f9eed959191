import { z } from "zod";

/**
 * Kept-run expiry (issue 16 item 4): a run kept in Ready for debugging holds machines, so it is kept at most its
 * owner's `keptRunMaxHours` (copied into the run at creation like the other run options), then terminated.
 */
export const DEFAULT_KEPT_MAX_HOURS = 24;
/** a month: machines held longer are forgotten ones */
export const MAX_KEPT_HOURS = 24 * 30;
/** a second: tests let an expiry happen in seconds, and a second is the timer's precision that matters */
export const MIN_KEPT_HOURS = 1 / 3600;
/** one extension adds at most a week */
export const MAX_EXTEND_HOURS = 24 * 7;

/** Hours, fractional allowed (0.5 = 30 min, 0.001 ≈ 4 s). */
export const KeptHours = z
  .number()
  .min(MIN_KEPT_HOURS, `must be at least ${MIN_KEPT_HOURS} (one second)`)
  .max(MAX_KEPT_HOURS, `must be at most ${MAX_KEPT_HOURS} (30 days)`);

export const ExtendRunBody = z.strictObject({
  /** added to the run's current expiry (or to now, if that has passed) */
  hours: z
    .number()
    .min(MIN_KEPT_HOURS, `must be at least ${MIN_KEPT_HOURS} (one second)`)
    .max(MAX_EXTEND_HOURS, `must be at most ${MAX_EXTEND_HOURS} (a week)`),
});
export type ExtendRunBody = z.infer<typeof ExtendRunBody>;

export const ExtendRunAnswer = z.object({
  id: z.string(),
  /** the new expiry (ISO time) */
  keptUntil: z.string(),
  /** the event that announced it to every watcher */
  seq: z.number().int(),
});

/** "24 h", "1.5 h", "0.002 h": the run's limit as its events and pages say it. */
export function formatHours(hours: number): string {
  return `${Number(hours.toPrecision(3))} h`;
}

/** The limit for people: "24 h", "30 min", "25 s" (tests keep runs for seconds). */
export function formatLimit(hours: number): string {
  if (hours >= 1) return formatHours(hours);
  const seconds = Math.round(hours * 3600);
  return seconds >= 60 && seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}
