import { z } from "zod";
import { DEFAULT_KEPT_MAX_HOURS, KeptHours } from "../../protocol/kept.js";
import { KeepRunning } from "../../protocol/run.js";
import { StuckRunAbortSeconds } from "../../protocol/wait-graph.js";
import type { SqlRow } from "../db/rows.js";
import type { users } from "../db/schema.js";
import type { Caller } from "../modules/service.js";
import type { AuthContext } from "./credentials.js";

export const Profile = z.object({
  keepRunning: KeepRunning.default("on-success"),
  sshKeys: z.array(z.string()).default([]),
  defaultCloud: z.string().default("local"),
  // SlipStream's default: the whole climb to Ready (run-rules R15)
  runTimeoutMinutes: z.number().int().min(1).default(30),
  // an agent silent this long is lost (run-rules R19)
  lostAfterSeconds: z.number().int().min(1).default(60),
  // a run kept in Ready is terminated after this long (protocol/kept.ts)
  keptRunMaxHours: KeptHours.default(DEFAULT_KEPT_MAX_HOURS),
  // a run stuck in its waits is aborted after this long (core/wait-graph.ts); 0: never
  stuckRunAbortSeconds: StuckRunAbortSeconds.default(0),
});
export type Profile = z.infer<typeof Profile>;

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
