import type { z } from "zod";
import type { AckFn } from "./ack";

/**
 * One socket.io request of the contract: its payload and what its ack carries (`{ ok: true, data }`). Every
 * request is answered through its ack, `{ ok: false, error }` when refused.
 */
export interface RequestDef {
  summary: string;
  request: z.ZodType;
  response: z.ZodType;
}

/** A request's ack data, as the server produces it. */
export type RequestAnswer<D extends RequestDef> = z.input<D["response"]>;

/** The socket.io event map of a catalog of requests (what clients emit, each with its ack). */
export type RequestEvents<C extends Record<string, RequestDef>> = {
  [K in keyof C]: (req: z.input<C[K]["request"]>, ack: AckFn<z.input<C[K]["response"]>>) => void;
};

/** The socket.io event map of a catalog of pushes (what the server emits, without ack). */
export type PushEvents<C extends Record<string, z.ZodType>> = {
  [K in keyof C]: (msg: z.input<C[K]>) => void;
};
