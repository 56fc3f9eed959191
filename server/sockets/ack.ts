import type { Logger } from "pino";
import type { z } from "zod";
import type { Ack } from "../../protocol/ack.js";
import { parseOrThrow, SlipError } from "../../protocol/errors.js";

/**
 * Wraps a socket handler: validates the payload with zod, answers `{ ok, data | error }` through the ack,
 * and never lets bad input or a thrown error crash the process.
 */
export function acked<S extends z.ZodType, T>(
  log: Logger,
  schema: S,
  fn: (req: z.infer<S>) => Promise<T> | T,
): (raw: unknown, ack: unknown) => void {
  return (raw, ack) => {
    const reply = typeof ack === "function" ? (ack as (r: Ack<T>) => void) : () => {};
    Promise.resolve()
      .then(() => fn(parseOrThrow(schema, raw)))
      .then(
        (data) => reply({ ok: true, data }),
        (err: unknown) => {
          if (!(err instanceof SlipError)) log.error({ err }, "socket handler failed");
          const e = err instanceof SlipError ? err : new SlipError("INTERNAL", "internal server error");
          reply({ ok: false, error: e.toJSON() });
        },
      );
  };
}
