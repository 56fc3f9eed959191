import type { z } from "zod";
import { Profile } from "../../protocol/catalog/profile.js";
import type { SqlRow } from "../db/rows.js";
import type { users } from "../db/schema.js";
import type { Caller } from "../modules/service.js";
import type { AuthContext } from "./credentials.js";

// stored as the API gives it back: one schema for both
export { Profile };

export interface AuthedUser extends Caller {
  profile: Profile;
}

export type UserRow = SqlRow<typeof users>;

/** The caller a users row stands for, with its stored profile (defaults filled in). */
export function toAuthedUser(row: UserRow): AuthedUser {
  return { id: row.id, username: row.username, role: row.role, profile: Profile.parse(JSON.parse(row.profile)) };
}

/** Stores a validated profile; `changed` drops what was cached of the user so the next run uses the new defaults. */
export function updateProfile(
  ctx: AuthContext,
  userId: number,
  profile: z.input<typeof Profile>,
  changed: (userId: number) => void,
): Profile {
  const clean = Profile.parse(profile);
  ctx.db.$client.prepare("update users set profile = ? where id = ?").run(JSON.stringify(clean), userId);
  changed(userId);
  return clean;
}
