import { z } from "zod";
import { AbortReceipt } from "./abort-receipt";
import { WaitDiagnosis } from "./wait-graph";

export const RUN_STATES = [
  "Initializing",
  "Provisioning",
  "Executing",
  "SendingReports",
  "Ready",
  "Finalizing",
  "Done",
  "Aborted",
  "Cancelled",
] as const;
export const RunState = z.enum(RUN_STATES);
export type RunState = z.infer<typeof RunState>;
export const TERMINAL_STATES: readonly RunState[] = ["Done", "Aborted", "Cancelled"];
/** States whose end is decided by every live instance completing them (the barrier). */
export const BARRIER_STATES: readonly RunState[] = ["Provisioning", "Executing", "SendingReports", "Ready"];

export const KEEP_RUNNING = ["always", "on-success", "on-error", "never"] as const;
export const KeepRunning = z.enum(KEEP_RUNNING);
export type KeepRunning = z.infer<typeof KeepRunning>;

export const NODE_NAME_RE = /^[A-Za-z][A-Za-z0-9_-]*$/;
export const PARAM_NAME_RE = /^[A-Za-z_][\w.-]*$/;
export const MAX_PARAM_VALUE = 4096;

export const NodeName = z
  .string()
  .regex(NODE_NAME_RE, "must start with a letter and hold only letters, digits, _ and -")
  .max(64);
export const ParamName = z.string().regex(PARAM_NAME_RE, "must match [A-Za-z_][\\w.-]*").max(128);
export const ParamValue = z.string().max(MAX_PARAM_VALUE, `must be at most ${MAX_PARAM_VALUE} characters`);
export const InstanceName = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*\.[1-9][0-9]*$/, "must be <node>.<index>");

/** Who did something: `user:<name>`, `node:<node>.<i>`, or `server`. */
const Actor = z.string().min(1).max(200);

/** One entry of a run's event log. Every push to browsers and agents is one of these, with its per-run seq. */
export const RunEventBody = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("created"),
    module: z.string(),
    instances: z.array(z.string()),
    /** fingerprints ("SHA256:…") of the owner's SSH public keys the run copied at creation (absent on older runs) */
    sshKeys: z.array(z.string()).optional(),
  }),
  z.object({ type: z.literal("state"), from: RunState.nullable(), to: RunState }),
  z.object({ type: z.literal("param"), key: z.string(), value: z.string().nullable() }),
  z.object({ type: z.literal("abort"), message: z.string(), instance: z.string().nullable(), first: z.boolean() }),
  z.object({ type: z.literal("abort-reset") }),
  /** An instance's agent said what it did about abort number `abort` (protocol/abort-receipt.ts); a later revision replaces it. */
  z.object({ type: z.literal("abort-receipt"), ...AbortReceipt.shape }),
  z.object({ type: z.literal("recovery-mode"), on: z.boolean() }),
  z.object({ type: z.literal("terminate") }),
  /**
   * A client's lease on the run (protocol/run-lease.ts): taken, released, or expired — its holder went away, and the
   * run is terminated (the `terminate` event follows) unless keep-running keeps it in Ready; `message` says which.
   */
  z.object({
    type: z.literal("lease"),
    status: z.enum(["taken", "released", "expired"]),
    graceSeconds: z.number().int(),
    message: z.string(),
  }),
  /** The run reached Ready and keep-running kept its machines up: it waits there to be terminated (or scaled). */
  z.object({
    type: z.literal("kept"),
    keepRunning: KeepRunning,
    aborted: z.boolean(),
    /** when it is terminated unless extended (protocol/kept.ts); absent on older runs */
    until: z.string().optional(),
  }),
  /** The owner (or an admin) moved a kept run's expiry: `until` is the new one. */
  z.object({ type: z.literal("kept-extended"), hours: z.number(), until: z.string() }),
  /** A kept run reached its limit and is terminated (the `terminate` event follows, by `system`). */
  z.object({ type: z.literal("kept-expired"), hours: z.number(), message: z.string() }),
  z.object({
    type: z.literal("scale"),
    node: z.string(),
    added: z.array(z.string()),
    removed: z.array(z.string()),
  }),
  z.object({
    type: z.literal("instance"),
    instance: z.string(),
    /** unresponsive → back, or → lost once the run's grace is over (run-rules R19) */
    status: z.enum(["starting", "up", "down", "completed", "removed", "failed", "unresponsive", "back", "lost"]),
    state: RunState.optional(),
    detail: z.string().optional(),
  }),
  z.object({
    type: z.literal("log"),
    instance: z.string(),
    target: z.string(),
    stream: z.enum(["stdout", "stderr", "agent"]),
    data: z.string(),
  }),
  /**
   * An instance's log grew past its limit: its first half is kept, then its last half; `bytes` were dropped in
   * between so far (the latest such event of an instance has the total), after the head that ended at `afterSeq`.
   */
  z.object({
    type: z.literal("log-dropped"),
    instance: z.string(),
    bytes: z.number().int(),
    afterSeq: z.number().int(),
  }),
  z.object({ type: z.literal("report"), name: z.string(), size: z.number().int(), instance: z.string().nullable() }),
  z.object({ type: z.literal("error"), message: z.string() }),
  /**
   * The server could not store what this run's agents or users sent (disk full, read-only database: `cause`) since
   * `since`; written with "back" once it can write again, as it cannot write while it is full.
   */
  z.object({
    type: z.literal("storage"),
    /** full: no space left; read-only: the database or file system refuses writes; io-error: the disk fails */
    status: z.enum(["full", "read-only", "io-error", "back"]),
    cause: z.string(),
    since: z.string(),
  }),
  /** The server process started (its agents then have the run's grace to reconnect) or is stopping. */
  z.object({ type: z.literal("server"), status: z.enum(["started", "stopping"]) }),
  /** The wait-for graph shows the run stuck (protocol/wait-graph.ts): recorded when a diagnosis appears. */
  z.object({ type: z.literal("stuck"), diagnosis: WaitDiagnosis }),
]);
export type RunEventBody = z.infer<typeof RunEventBody>;

export const RunEvent = z.object({
  runId: z.string(),
  seq: z.number().int().positive(),
  at: z.string(),
  actor: Actor,
  body: RunEventBody,
});
export type RunEvent = z.infer<typeof RunEvent>;

export const InstanceSummary = z.object({
  name: z.string(),
  node: z.string(),
  index: z.number().int(),
  cloud: z.string(),
  live: z.boolean(),
  cameUp: z.boolean(),
  completed: z.boolean(),
  /** where the instance's files are on its machine (scripts, slipstream.setenv); null until started */
  workspace: z.string().nullable(),
  /** the command a person on the server's machine types to enter the instance's machine (local cloud) */
  login: z.string().nullable().default(null),
  /** log bytes dropped past the per-instance limit (the head and the tail are kept) */
  logDropped: z.number().int().default(0),
  /**
   * Its agent's connection (run-rules R19): waiting (not connected yet), connected, unresponsive (dropped, within
   * the grace), lost (past it), ended (its machine stopped or the run over).
   */
  liveness: z.enum(["waiting", "connected", "unresponsive", "lost", "ended"]).default("waiting"),
  /** when it went unresponsive (ISO), while it is */
  unresponsiveSince: z.string().nullable().default(null),
});
export type InstanceSummary = z.infer<typeof InstanceSummary>;

export const RunSummary = z.object({
  id: z.string(),
  module: z.string(),
  owner: z.string(),
  state: RunState,
  abort: z.string().nullable(),
  /**
   * while aborted: who raised the abort in force, as the event log names actors (`user:<name>`, `node:<instance>`,
   * `server`), and when
   */
  abortedBy: z.string().nullable().optional(),
  abortedAt: z.string().nullable().optional(),
  recoveryMode: z.boolean(),
  keepRunning: KeepRunning,
  scalable: z.boolean(),
  tags: z.array(z.string()),
  createdAt: z.string(),
  updatedAt: z.string(),
  lastSeq: z.number().int(),
});
export type RunSummary = z.infer<typeof RunSummary>;

/** What a person may ask of a run; which ones its state allows is decided in core (`allowedActions`). */
export const RunAction = z.enum(["abort", "resetAbort", "terminate", "scale", "setParam"]);
export type RunAction = z.infer<typeof RunAction>;

export const RunDetail = RunSummary.extend({
  /** the actions the run's state allows now (to anyone allowed to steer it), in this order; the UI renders these */
  allowed: z.array(RunAction).default([]),
  instances: z.array(InstanceSummary),
  nodes: z.array(z.object({ name: z.string(), image: z.string(), multiplicity: z.number().int(), cloud: z.string() })),
  deadline: z.string().nullable(),
  /** what the run copied from its owner's profile when it was created (profile changes reach new runs only) */
  timeoutMinutes: z.number().int(),
  /** SHA256 fingerprints of the SSH public keys let into its machines */
  sshKeys: z.array(z.string()),
  /** while kept in Ready: when it is terminated unless extended (protocol/kept.ts) */
  keptUntil: z.string().nullable().optional(),
  /** the longest it may stay kept, copied from the owner's profile at creation */
  keptMaxHours: z.number().optional(),
});
export type RunDetail = z.infer<typeof RunDetail>;

export const ParamCategory = z.enum(["input", "output", "builtin"]);
export type ParamCategory = z.infer<typeof ParamCategory>;
export const RuntimeParam = z.object({
  key: z.string(),
  value: z.string().nullable(),
  category: ParamCategory,
  description: z.string(),
  updatedSeq: z.number().int(),
});
export type RuntimeParam = z.infer<typeof RuntimeParam>;

export const ReportInfo = z.object({
  name: z.string(),
  instance: z.string().nullable(),
  size: z.number().int(),
  createdAt: z.string(),
});
export type ReportInfo = z.infer<typeof ReportInfo>;

/**
 * How a person logs in to an instance to debug it, from its `url.ssh` (`ssh://user@host[:port]`), or the login
 * command its cloud gave (the local cloud's: enter its sandbox on the server's machine), and its workspace: the
 * seed's "Debugging Deployments" steps as commands. Null when the instance has neither.
 */
export function debugCommands(
  urlSsh: string | null | undefined,
  workspace: string | null,
  loginCommand?: string | null,
): string[] | null {
  const m = urlSsh ? /^ssh:\/\/([^@/\s]+)@([^:/\s]+)(?::(\d+))?$/.exec(urlSsh) : null;
  if (!m && !loginCommand) return null;
  const login = m ? `ssh ${m[3] && m[3] !== "22" ? `-p ${m[3]} ` : ""}${m[1]}@${m[2]}` : (loginCommand as string);
  const ws = workspace ? workspace.replace(/^\/home\/[^/]+|^\/root/, "~") : null;
  return ws ? [login, `cd ${ws} && . ./slipstream.setenv`, "ss-abort --cancel", "./targets/execute"] : [login];
}
