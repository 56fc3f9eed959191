import { z } from "zod";
import { endpoint } from "../endpoint";
import { Limits, LimitsPatch } from "../limits";

const LimitsView = z.object({
  limits: Limits,
  /** who last changed them, and when; null while they are the defaults */
  changed: z.object({ by: z.string(), at: z.string() }).nullable(),
  /** each limit's meaning, so every client says the same thing */
  descriptions: z.record(z.string(), z.string()),
});

export const settingsRoutes = {
  limits: endpoint({
    method: "GET",
    path: "/api/settings/limits",
    tag: "settings",
    auth: "user",
    summary: "The limits every run and user meets",
    response: LimitsView,
  }),
  setLimits: endpoint({
    method: "PUT",
    path: "/api/settings/limits",
    tag: "settings",
    auth: "admin",
    adminOnly: "change the limits",
    summary: "Change some limits (the others keep their values)",
    body: LimitsPatch,
    response: LimitsView,
  }),
};
