import { z } from "zod";
import type { Ack } from "../protocol/ack.js";
import { AGENT_REQUESTS } from "../protocol/agent-socket.js";

/**
 * The ss-* commands talk to their agent over a local unix socket, newline-delimited JSON.
 * A request names the `/agent` socket event it becomes (`op`) and carries that event's payload (`req`);
 * the response is the event's ack with the request's `id`. The agent forwards, it never answers itself
 * except for validation errors and for waits it knows are aborted or timed out.
 */
/** The requests an ss-* command may send: the agent's own (state:complete, log:append…) are not theirs. */
const IPC_OPS = ["param:get", "param:set", "param:get-all", "run:abort", "node:add", "node:remove"] as const;
type IpcOpName = (typeof IPC_OPS)[number];
const ipcEntry = <K extends IpcOpName>(op: K) =>
  z.strictObject({
    id: z.number().int(),
    op: z.literal(op),
    req: AGENT_REQUESTS[op].request as (typeof AGENT_REQUESTS)[K]["request"],
  });
export const IpcRequest = z.discriminatedUnion("op", [
  ipcEntry("param:get"),
  ipcEntry("param:set"),
  ipcEntry("param:get-all"),
  ipcEntry("run:abort"),
  ipcEntry("node:add"),
  ipcEntry("node:remove"),
]);
export type IpcRequest = z.infer<typeof IpcRequest>;
export type IpcRequestInput = z.input<typeof IpcRequest>;

export type IpcResponse = Ack<unknown> & { id: number | null };
