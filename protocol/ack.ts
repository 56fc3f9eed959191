import { z } from "zod";
import { ApiError } from "./errors";

/** socket.io ack payload: `{ ok: true, data }` or `{ ok: false, error }`. */
export type Ack<T> = { ok: true; data: T } | { ok: false; error: ApiError };
export type AckFn<T> = (response: Ack<T>) => void;

export const ackSchema = <T extends z.ZodType>(data: T) =>
  z.discriminatedUnion("ok", [
    z.object({ ok: z.literal(true), data }),
    z.object({ ok: z.literal(false), error: ApiError }),
  ]);
