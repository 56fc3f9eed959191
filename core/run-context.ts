/** The run machine's context, declared once in zod: the machine's type and the stored snapshot's check both come from it. */
import { z } from "zod";
import { KeepRunning } from "../protocol/run.js";
import type { InstanceTable } from "./instance-table.js";

export const InstanceInfo = z.object({
  node: z.string(),
  /** not removed by a scale, not failed to start (R8b), not lost (R19) */
  live: z.boolean(),
  cameUp: z.boolean(),
  /** completed the current barrier state */
  completed: z.boolean(),
});
export type InstanceInfo = z.infer<typeof InstanceInfo>;

/** The machine's context as stored and checked on load: its instances a record. */
export const StoredRunContext = z.object({
  /** Keyed `<node>.<i>`, e.g. `apache.1`, `client.3`, in the order they were added. */
  instances: z.record(z.string(), InstanceInfo),
  keepRunning: KeepRunning,
  scalable: z.boolean(),
  /** First abort message wins. */
  abort: z.string().nullable(),
  recoveryMode: z.boolean(),
  /** Ready decided to stay (keep-running or scalable); set once per Ready visit. */
  kept: z.boolean(),
  scaling: z
    .object({ action: z.enum(["vm_add", "vm_remove"]), node: z.string(), instances: z.array(z.string()) })
    .nullable(),
});
export type StoredRunContext = z.infer<typeof StoredRunContext>;

/** The machine's context: the stored one, its instances in a table that a transition changes one instance of. */
export type RunContext = Omit<StoredRunContext, "instances"> & { instances: InstanceTable };
