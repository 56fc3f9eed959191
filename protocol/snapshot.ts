import { z } from "zod";
import { ReportInfo, RunDetail, RunEvent, RuntimeParam } from "./run";

export const SNAPSHOT_FORMAT = "slipstream-run-snapshot";

/**
 * A run's whole history in one file (`slipstream snapshot RUN > run.json`, the run page's Export): what the run
 * page shows, and every event it came from, so the dashboard can open it offline, read-only, and replay it.
 * Report files are listed, not included (they can be large; `slipstream reports` downloads them).
 */
export const RunSnapshot = z.object({
  format: z.literal(SNAPSHOT_FORMAT),
  version: z.literal(1),
  exportedAt: z.string(),
  /** who exported it, from which server */
  exportedBy: z.string(),
  run: RunDetail,
  params: z.array(RuntimeParam),
  reports: z.array(ReportInfo),
  /** every event of the run, seq 1 to run.lastSeq */
  events: z.array(RunEvent),
});
export type RunSnapshot = z.infer<typeof RunSnapshot>;
