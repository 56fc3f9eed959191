import type { Logger } from "pino";
import type { z } from "zod";
import type { Ack } from "../../protocol/ack.js";
import { parseOrThrow, SlipError } from "../../protocol/errors.js";
import type { RequestAnswer, RequestDef } from "../../protocol/socket-catalog.js";
import { checkAnswer } from "../contract-check.js";
import { storageError } from "../storage.js";

/**
 * Wraps a socket handler: validates the payload with zod, answers `{ ok, data | error }` through the ack,
 * and never lets bad input or a thrown error crash the process.
 */
function acked<S extends z.ZodType, T>(
  log: Logger,
  schema: S,
  fn: (req: z.infer<S>) => Promise<T> | T,
): (...args: unknown[]) => void {
  // socket.io passes the ack as the last argument, after however many payloads the client sent: a request with
  // none or two must still be answered, not read as a payload that is a function, or an ack that is data
  return (...args) => {
    const ack = args.at(-1);
    const reply = typeof ack === "function" ? (ack as (r: Ack<T>) => void) : () => {};
    const payloads = typeof ack === "function" ? args.slice(0, -1) : args;
    Promise.resolve()
      .then(() => {
        if (payloads.length > 1) {
          throw new SlipError("BAD_REQUEST", `one payload expected, got ${payloads.length}`);
        }
        return fn(parseOrThrow(schema, payloads[0]));
      })
      .then(
        (data) => reply({ ok: true, data }),
        (err: unknown) => {
          const storage = err instanceof SlipError ? null : storageError(err);
          if (storage) log.warn({ err }, "socket request not stored");
          else if (!(err instanceof SlipError)) log.error({ err }, "socket handler failed");
          const e = err instanceof SlipError ? err : (storage ?? new SlipError("INTERNAL", "internal server error"));
          reply({ ok: false, error: e.toJSON() });
        },
      );
  };
}

/**
 * Registers the handler of one catalog request: its payload parsed with the entry's schema, its ack data typed by
 * the entry's response.
 */
export function answer<C extends Record<string, RequestDef>, K extends keyof C & string>(
  socket: { on(event: string, listener: (...args: unknown[]) => void): unknown },
  log: Logger,
  catalog: C,
  name: K,
  fn: (req: z.output<C[K]["request"]>) => Promise<RequestAnswer<C[K]>> | RequestAnswer<C[K]>,
): void {
  const entry = catalog[name];
  socket.on(
    name,
    acked(log, entry.request, async (req) => {
      const data = await fn(req as z.output<C[K]["request"]>);
      checkAnswer(entry.response, data, `answer to ${name}`);
      return data;
    }),
  );
}
