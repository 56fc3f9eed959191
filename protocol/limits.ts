import { z } from "zod";
import { MAX_PARAM_VALUE } from "./run";

const MiB = 1024 * 1024;

/**
 * What one member's runs may grow to on a shared server. Every limit has a default that a team never meets in
 * normal use and that keeps one runaway recipe from taking the server (or its disk) with it; an admin changes
 * them at run time (GET/PUT /api/settings/limits). Each field's description is what the admin page shows.
 */
export const Limits = z.object({
  instancesPerRun: z.number().int().min(1).max(100_000).default(500).describe("instances one run may have"),
  activeInstancesPerUser: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(1000)
    .describe("instances of one user's unfinished runs, all runs together"),
  logBytesPerInstance: z
    .number()
    .int()
    .min(64 * 1024)
    .max(1024 * MiB)
    .default(8 * MiB)
    .describe("log bytes kept per instance: the first half and the last half; what is between is dropped"),
  paramsPerRun: z.number().int().min(16).max(10_000_000).default(50_000).describe("runtime parameters of one run"),
  paramValueBytes: z
    .number()
    .int()
    .min(256)
    .max(MAX_PARAM_VALUE)
    .default(MAX_PARAM_VALUE)
    .describe(`bytes of one parameter value (at most ${MAX_PARAM_VALUE}, the wire's own limit)`),
  eventsPerRun: z
    .number()
    .int()
    .min(1000)
    .max(100_000_000)
    .default(200_000)
    .describe("parameter changes and messages one run may record (log lines and state changes not counted)"),
  reportsPerInstance: z.number().int().min(1).max(1000).default(10).describe("reports one instance may upload"),
  reportBytes: z
    .number()
    .int()
    .min(MiB)
    .max(4096 * MiB)
    .default(200 * MiB)
    .describe("bytes of one report tarball"),
  waitsPerInstance: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(1000)
    .describe("ss-get waits one instance may have open at once"),
  terminalIdleSeconds: z
    .number()
    .int()
    .min(10)
    .max(24 * 3600)
    .default(15 * 60)
    .describe("seconds a shared terminal stays open while nobody types into it"),
});
export type Limits = z.infer<typeof Limits>;

/** A change: any subset of the limits. */
export const LimitsPatch = Limits.partial().strict();
export type LimitsPatch = z.infer<typeof LimitsPatch>;

export const DEFAULT_LIMITS: Limits = Limits.parse({});

/**
 * Bounds of shared terminals (protocol/terminal.ts): fixed, not admin settings, since they guard the server's
 * memory and every watcher's browser rather than a team's usage.
 */
export const TERMINAL_LIMITS = {
  /** open terminals per run */
  sessionsPerRun: 4,
  /** output bytes per second a terminal may push, averaged over `outputBurstBytes`; the rest is dropped, said so */
  outputBytesPerSecond: 256 * 1024,
  outputBurstBytes: 1024 * 1024,
  /** one output chunk from the agent */
  outputChunkBytes: 64 * 1024,
  /** output kept for watchers who arrive or reconnect */
  scrollbackBytes: 256 * 1024,
  /** the recording's bytes; past them it stops, said so in the recording */
  recordingBytes: 16 * 1024 * 1024,
  /** one input message */
  inputBytes: 4096,
  minRows: 2,
  maxRows: 200,
  minCols: 10,
  maxCols: 500,
} as const;
