import { z } from "zod";

/** Which kind of cloud an instance runs on, as far as getting into its machine goes. */
export const DebugCloudKind = z.enum(["local", "ssh", "docker", "other"]);
export type DebugCloudKind = z.infer<typeof DebugCloudKind>;

/**
 * How a person gets into one instance's machine and re-runs its recipe (GET /api/runs/:id/instances/:instance/debug):
 * worked out by the server from what the instance's cloud reported when it started it, shown only to those who may
 * steer the run (its owner or an admin).
 */
export const InstanceDebugInfo = z.object({
  runId: z.string(),
  instance: z.string(),
  cloud: z.string(),
  cloudKind: DebugCloudKind,
  /** the command that opens a shell on the machine; null when its cloud gave none (or it has not started) */
  enter: z.string().nullable(),
  /** where `enter` is typed: the server's machine (local, docker) or any machine that reaches the host (ssh) */
  enterFrom: z.enum(["server", "anywhere"]).nullable(),
  /** local cloud: the instance's directory on the server's machine (its `enter` script and machine files) */
  hostPath: z.string().nullable(),
  /** where the instance's recipes, `slipstream.setenv` and `targets/` are, on its machine */
  workspace: z.string().nullable(),
  /** `cd <workspace> && . ./slipstream.setenv`: the recipe's environment (ss-get, ss-set, …) */
  setenv: z.string().nullable(),
  /** the recipe's line that re-runs it */
  rerun: z.string(),
  /** what clears the abort from inside the machine (the run page's Reset abort does the same) */
  resetAbort: z.string(),
  /** every line above in the order a person types them, to copy at once */
  commands: z.array(z.string()),
  /** one sentence on what is missing, when a line could not be given */
  note: z.string().nullable(),
});
export type InstanceDebugInfo = z.infer<typeof InstanceDebugInfo>;
