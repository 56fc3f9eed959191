import { z } from "zod";
import { endpoint } from "../endpoint";
import { ExtendRunAnswer, ExtendRunBody } from "../kept";

/** Kept-run expiry (protocol/kept.ts): the owner, or an admin, gives a kept run more time. */
export const keptRoutes = {
  extendRun: endpoint({
    method: "POST",
    path: "/api/runs/:id/extend",
    tag: "runs",
    auth: "user",
    summary:
      "Give a run kept in Ready more time before it is terminated: `hours` are added to its expiry (owner or admin; a run not kept is a conflict)",
    params: z.object({ id: z.string().min(1).max(100) }),
    body: ExtendRunBody,
    response: ExtendRunAnswer,
    errors: ["NOT_FOUND", "FORBIDDEN", "CONFLICT"],
  }),
};
