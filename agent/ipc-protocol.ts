import { z } from "zod";
import type { Ack } from "../protocol/ack.js";
import {
  AbortRequest,
  NodeAddRequest,
  NodeRemoveRequest,
  ParamGetAllRequest,
  ParamGetRequest,
  ParamSetRequest,
} from "../protocol/agent-socket.js";

/**
 * The ss-* commands talk to their agent over a local unix socket, newline-delimited JSON.
 * A request names the `/agent` socket event it becomes (`op`) and carries that event's payload (`req`);
 * the response is the event's ack with the request's `id`. The agent forwards, it never answers itself
 * except for validation errors and for waits it knows are aborted or timed out.
 */
export const IpcRequest = z.discriminatedUnion("op", [
  z.strictObject({ id: z.number().int(), op: z.literal("param:get"), req: ParamGetRequest }),
  z.strictObject({ id: z.number().int(), op: z.literal("param:set"), req: ParamSetRequest }),
  z.strictObject({ id: z.number().int(), op: z.literal("param:get-all"), req: ParamGetAllRequest }),
  z.strictObject({ id: z.number().int(), op: z.literal("run:abort"), req: AbortRequest }),
  z.strictObject({ id: z.number().int(), op: z.literal("node:add"), req: NodeAddRequest }),
  z.strictObject({ id: z.number().int(), op: z.literal("node:remove"), req: NodeRemoveRequest }),
]);
export type IpcRequest = z.infer<typeof IpcRequest>;
export type IpcRequestInput = z.input<typeof IpcRequest>;
export type IpcOp = IpcRequest["op"];

export type IpcResponse = Ack<unknown> & { id: number | null };
