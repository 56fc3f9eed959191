import { z } from "zod";

/** `{ ok: true }`: the answer of a change that has nothing else to say. */
export const Ok = z.object({ ok: z.literal(true) });

export const Role = z.enum(["admin", "member"]);
export type Role = z.infer<typeof Role>;

/** Who is signed in, as the session and sign-in answers name them. */
export const SignedInUser = z.object({ username: z.string(), role: Role });
