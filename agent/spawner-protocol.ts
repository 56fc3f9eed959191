import { z } from "zod";

/**
 * What a run's agent host and its spawner (spawner-main.ts) say over their Node IPC channel. The children's output
 * never passes here: each of their pipes is a connection of the spawner to the host's abstract socket, handed to the
 * child as its fd after a header naming it (streamHeader).
 */
export const SpawnerRequest = z.discriminatedUnion("op", [
  /** where the host listens for the children's pipes, and the nonce each pipe's header starts with */
  z.object({ op: z.literal("init"), socket: z.string().min(1), nonce: z.string().regex(/^[0-9a-f]{32}$/) }),
  z.object({
    op: z.literal("spawn"),
    id: z.number().int().nonnegative(),
    argv: z.array(z.string()).min(1),
    env: z.record(z.string(), z.string()),
    cwd: z.string().optional(),
    detached: z.boolean(),
    /** fds after stdin (/dev/null) that are pipes to the host: 2 = stdout and stderr, 3 = fd 3 too */
    pipes: z.union([z.literal(2), z.literal(3)]),
  }),
  z.object({ op: z.literal("kill"), id: z.number().int().nonnegative(), signal: z.string().regex(/^SIG[A-Z0-9]+$/) }),
]);
export type SpawnerRequest = z.infer<typeof SpawnerRequest>;

export const SpawnerEvent = z.union([
  z.object({ ready: z.literal(true) }),
  z.object({ id: z.number().int().nonnegative(), pid: z.number().int().positive() }),
  z.object({ id: z.number().int().nonnegative(), error: z.string() }),
  z.object({
    id: z.number().int().nonnegative(),
    exit: z.object({ code: z.number().int().nullable(), signal: z.string().nullable() }),
  }),
]);
export type SpawnerEvent = z.infer<typeof SpawnerEvent>;

/** nonce (32 hex) + id (12 hex) + fd (1 digit) + newline: fixed, so the host reads exactly it and no output */
export const STREAM_HEADER_BYTES = 46;

export function streamHeader(nonce: string, id: number, fd: number): string {
  return `${nonce}${id.toString(16).padStart(12, "0")}${fd}\n`;
}

/** The (id, fd) a pipe's header names, or null when it is not one of this nonce's. */
export function parseStreamHeader(header: string, nonce: string): { id: number; fd: number } | null {
  const m = /^([0-9a-f]{32})([0-9a-f]{12})([1-3])\n$/.exec(header);
  if (!m || m[1] !== nonce) return null;
  return { id: Number.parseInt(m[2], 16), fd: Number(m[3]) };
}
