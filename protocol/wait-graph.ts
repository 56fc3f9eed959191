import { z } from "zod";

/**
 * Who waits for which key of whom (issue 16): one edge per blocked `ss-get`, from the waiting instance to what
 * should set the key. Waits are not run events (they come and go by the hundred); the graph is pushed whole to a
 * run's watchers (`run:waits`) with the run's seq, and its diagnosis is recorded as a `stuck` event when it appears.
 */
export const WaitEdge = z.object({
  /** the instance whose `ss-get` is blocked */
  from: z.string(),
  /** the key it asked for */
  key: z.string(),
  /** who should set it: an instance, or `person` (an unmapped input: someone sets it by hand) or `server` */
  to: z.string(),
  producer: z.enum(["instance", "person", "server"]),
  /** the key the producer sets (`b.1:out` for an input mapped from `b:out`), null when it is `key` itself */
  via: z.string().nullable(),
  /** when the wait started (ISO); its duration is counted by whoever shows it */
  since: z.string(),
});
export type WaitEdge = z.infer<typeof WaitEdge>;

export const WaitDiagnosis = z.object({
  /**
   * deadlock: every live instance is blocked or done and each blocked key waits on a blocked instance (a cycle);
   * dead-producer: a key is awaited from an instance that finished its script, aborted, left the run or was lost
   */
  kind: z.enum(["deadlock", "dead-producer"]),
  /** one sentence naming the instances and keys, for the run page, `slipstream status` and the abort message */
  sentence: z.string(),
  instances: z.array(z.string()),
  keys: z.array(z.string()),
});
export type WaitDiagnosis = z.infer<typeof WaitDiagnosis>;

export const WaitGraph = z.object({
  runId: z.string(),
  /** the run's last event seq when the graph was taken */
  seq: z.number().int(),
  /** the server's clock when it was taken (ISO), so a viewer counts durations without trusting its own clock */
  at: z.string(),
  edges: z.array(WaitEdge),
  diagnosis: WaitDiagnosis.nullable(),
});
export type WaitGraph = z.infer<typeof WaitGraph>;

/** The profile's grace before a stuck run is aborted, in seconds; 0 leaves stuck runs alone. */
export const StuckRunAbortSeconds = z
  .number()
  .int()
  .min(0)
  .max(24 * 3600);
