import { z } from "zod";
import { PutProfileBody } from "../api";
import { endpoint } from "../endpoint";
import { DEFAULT_KEPT_MAX_HOURS, KeptHours } from "../kept";
import { KeepRunning } from "../run";
import { StuckRunAbortSeconds } from "../wait-graph";

/** The user's profile ("General") as stored: copied into each run when it is created. */
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

const ProfileView = z.object({ profile: Profile, clouds: z.array(z.string()), displayName: z.string() });

export const profileRoutes = {
  profile: endpoint({
    method: "GET",
    path: "/api/profile",
    tag: "profile",
    auth: "user",
    summary: "The caller's profile, and the clouds there are",
    response: ProfileView,
  }),
  putProfile: endpoint({
    method: "PUT",
    path: "/api/profile",
    tag: "profile",
    auth: "user",
    summary: "Change the caller's profile (new runs copy it)",
    body: PutProfileBody,
    response: ProfileView,
  }),
};
