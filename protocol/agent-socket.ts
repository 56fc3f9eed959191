import { z } from "zod";
import { ABORT_RECEIPT_AGENT_REQUESTS } from "./abort-receipt";
import { fitMessage } from "./messages";
import { SCRIPT_TARGETS } from "./modules";
import { NodeName, ParamValue, RunState } from "./run";
import type { PushEvents, RequestDef, RequestEvents } from "./socket-catalog";
import { TERMINAL_AGENT_PUSHES, TERMINAL_AGENT_REQUESTS } from "./terminal";

/**
 * The `/agent` socket.io namespace: one connection per node instance.
 * Handshake `auth`: AgentAuth. The server rejects a wrong protocol version or token with a connect_error
 * whose message starts with the error code (e.g. `UNAUTHORIZED: ...`, `CONFLICT: protocol version ...`).
 */
export const AgentAuth = z.object({
  token: z.string().min(10).max(500),
  protocolVersion: z.number().int(),
});

/** A key as the agent sends it: already qualified (`node.i:name`, `node:name`, `ss:name`). */
export const QualifiedKey = z.string().min(3).max(300);

/**
 * Every request may carry the agent's id for it (unique per agent process, `requestIdOf`): a request re-sent after a
 * reconnect keeps its id, so the server answers it as it answered the first time without acting twice, and
 * `param:cancel` can name a wait whose command exited. To the server an id is any such string.
 */
export const RequestId = z.string().min(1).max(100);

/**
 * The id the agent gives a request: when it was made (ms, base 36, fixed width), the agent process's session and a
 * counter. Unique for an instance across its agent processes; and as its time comes first, the answers a run stores
 * (request_answers, keyed by run, then request) go to the end of the run's range, where one commit of many instances'
 * writes changes a page or two of them, not one per instance (drizzle/0019).
 */
export function requestIdOf(madeAt: number, session: string, n: number): string {
  return `${Math.max(0, Math.floor(madeAt)).toString(36).padStart(9, "0")}-${session}-${n}`;
}
const requestId = RequestId.optional();

export const ParamGetRequest = z.strictObject({
  requestId,
  key: QualifiedKey,
  /** seconds to wait; 0 = forever */
  timeout: z
    .number()
    .min(0)
    .max(7 * 24 * 3600)
    .default(60),
  noblock: z.boolean().default(false),
  ignoreAbort: z.boolean().default(false),
});
export const ParamSetRequest = z.strictObject({
  requestId,
  key: QualifiedKey,
  value: ParamValue,
  ignoreAbort: z.boolean().default(false),
});
export const ParamGetAllRequest = z.strictObject({
  requestId,
  node: NodeName,
  name: z.string().min(1).max(128),
  timeout: z
    .number()
    .min(0)
    .max(7 * 24 * 3600)
    .default(60),
});
export const AbortRequest = z.strictObject({
  requestId,
  // an agent's message is cut to fit, never refused (a refused abort would let a failed run end Done)
  message: z
    .string()
    .max(1 << 20)
    .default("")
    .transform((m) => fitMessage(m)),
  cancel: z.boolean().default(false),
});
export const CompleteRequest = z.strictObject({ requestId, state: RunState });
export const LogTarget = z.enum([...SCRIPT_TARGETS, "packages", "agent"]);
export const LogAppendRequest = z.strictObject({
  requestId,
  /** per-instance chunk counter, so a chunk re-sent after a reconnect is stored once */
  chunk: z.number().int().positive(),
  target: LogTarget,
  stream: z.enum(["stdout", "stderr", "agent"]),
  data: z.string().max(64 * 1024),
});
export const NodeAddRequest = z.strictObject({
  requestId,
  node: NodeName,
  count: z.number().int().min(1).max(1000).default(1),
});
export const NodeRemoveRequest = z.strictObject({
  requestId,
  node: NodeName,
  // as many as NodeAddRequest adds at once; an index no run reaches is refused here rather than looked up
  ids: z.array(z.number().int().min(1).max(1_000_000)).min(1).max(1000),
});
/** The command of the param:get or param:get-all whose request id is `wait` exited: the server drops that wait. */
export const ParamCancelRequest = z.strictObject({ requestId, wait: RequestId });

/** What the agent learns at connect and on every change of state or abort. */
export const AgentRunState = z.object({
  seq: z.number().int(),
  runId: z.string(),
  instance: z.string(),
  state: RunState,
  abort: z.string().nullable(),
  recoveryMode: z.boolean(),
  /** true when this instance already completed `state` (it must not run it again after a reconnect) */
  completed: z.boolean(),
  /** false when this instance was removed by scaling: it runs its report and stops */
  live: z.boolean(),
  /** set during a scale cycle so existing instances run onvmadd / onvmremove */
  scaling: z
    .object({ action: z.enum(["vm_add", "vm_remove"]), node: z.string(), instances: z.array(z.string()) })
    .nullable(),
});
export type AgentRunState = z.infer<typeof AgentRunState>;

/** The image an instance runs, sent once at connect. */
export const AgentAssignment = z.object({
  node: z.string(),
  index: z.number().int(),
  targets: z.record(z.string(), z.union([z.string(), z.array(z.string())])),
  cloud: z.string(),
  /** the server's per-instance log limit: the agent keeps its log file within it too */
  logBytes: z.number().int().positive().optional(),
  /** the last log chunk the server stored for this instance: an agent started again numbers on after it */
  logChunk: z.number().int().min(0).optional(),
});
export type AgentAssignment = z.infer<typeof AgentAssignment>;

/** What the server pushes to an agent. */
export const AGENT_PUSHES = {
  /** at connect: the run as it stands and the image this instance runs */
  "agent:hello": z.object({ run: AgentRunState, assignment: AgentAssignment }),
  /** on every change of the run's state, abort or scale cycle */
  "run:state": AgentRunState,
  ...TERMINAL_AGENT_PUSHES,
} satisfies Record<string, z.ZodType>;

/** What an agent asks, for its ss-* commands and its own work (each answered once per request id). */
export const AGENT_REQUESTS = {
  "param:get": {
    summary: "ss-get: a parameter's value, waiting until it is set (or the timeout, or an abort)",
    request: ParamGetRequest,
    response: z.object({ value: z.string() }),
  },
  "param:set": {
    summary: "ss-set: set a parameter; every wait on it wakes",
    request: ParamSetRequest,
    response: z.object({ seq: z.number().int().nullable() }),
  },
  "param:get-all": {
    summary: "A parameter of every instance of a node (waiting until each is set)",
    request: ParamGetAllRequest,
    response: z.object({ values: z.array(z.object({ instance: z.string(), value: z.string() })) }),
  },
  "run:abort": {
    summary: "ss-abort: abort the run (first message wins), or with cancel reset the abort",
    request: AbortRequest,
    response: z.object({ abort: z.string().nullable() }),
  },
  "state:complete": {
    summary: "This instance completed the run's state (the barrier counts it)",
    request: CompleteRequest,
    response: z.object({ state: z.string() }),
  },
  "log:append": {
    summary: "A chunk of the instance's log, numbered so a chunk re-sent after a reconnect is stored once",
    request: LogAppendRequest,
    response: z.object({ seq: z.number().int().nullable() }),
  },
  "node:add": {
    summary: "ss-node-add: add instances to a node of a scalable run",
    request: NodeAddRequest,
    response: z.object({ added: z.array(z.string()) }),
  },
  "node:remove": {
    summary: "ss-node-remove: remove instances of a node of a scalable run",
    request: NodeRemoveRequest,
    response: z.object({ removed: z.array(z.string()) }),
  },
  "param:cancel": {
    summary: "The command waiting with request id `wait` exited: drop its wait",
    request: ParamCancelRequest,
    response: z.object({ cancelled: z.number().int() }),
  },
  ...TERMINAL_AGENT_REQUESTS,
  ...ABORT_RECEIPT_AGENT_REQUESTS,
} satisfies Record<string, RequestDef>;
export type AgentRequestName = keyof typeof AGENT_REQUESTS;

export type AgentServerToClient = PushEvents<typeof AGENT_PUSHES>;
export type AgentClientToServer = RequestEvents<typeof AGENT_REQUESTS>;
