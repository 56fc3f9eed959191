import { z } from "zod";

/** How long a lease outlives its holder's last heartbeat when the holder does not say (`slipstream run --wait`). */
export const DEFAULT_LEASE_GRACE_SECONDS = 30;

/**
 * A client's hold on a run (`slipstream run --wait`, CI): it renews it within `graceSeconds` again and again; when it
 * stops (killed, its machine gone) the server terminates the run `graceSeconds` after the last renewal, unless the
 * run is kept in Ready by keep-running.
 */
export const LeaseBody = z.strictObject({
  graceSeconds: z
    .number()
    .int()
    .min(1, "must be at least 1 second")
    .max(24 * 3600, "must be at most 86400 seconds (a day)")
    .default(DEFAULT_LEASE_GRACE_SECONDS),
});
export type LeaseBody = z.infer<typeof LeaseBody>;

export const LeaseState = z.object({
  id: z.string(),
  /** null once released (or never taken) */
  graceSeconds: z.number().int().nullable(),
  /** when the server terminates the run unless renewed before (ISO); null without a lease */
  expiresAt: z.string().nullable(),
});
export type LeaseState = z.infer<typeof LeaseState>;
