import { z } from "zod";

/**
 * What a dry run (POST /api/runs/check, `slipstream run --dry-run`, the Run… dialog's Check) finds: an error stops
 * the run from working (the server would refuse it, or a recipe would wait forever), a warning probably does, an info
 * says what could not be checked.
 */
export const CheckSeverity = z.enum(["error", "warning", "info"]);
export type CheckSeverity = z.infer<typeof CheckSeverity>;

export const RunCheckFinding = z.object({
  severity: CheckSeverity,
  /** the deployment node it is about, null for the run as a whole */
  node: z.string().nullable(),
  /** the recipe target (execute, post-install, …) when a script line is at fault */
  target: z.string().nullable(),
  /** 1-based line in that target's script */
  line: z.number().int().nullable(),
  /** the parameter key as the script or the request wrote it */
  key: z.string().nullable(),
  message: z.string(),
});
export type RunCheckFinding = z.infer<typeof RunCheckFinding>;

export const RunCheckResult = z.object({
  /** true when no finding is an error: the same body would create a run that can work */
  ok: z.boolean(),
  findings: z.array(RunCheckFinding),
});
export type RunCheckResult = z.infer<typeof RunCheckResult>;
