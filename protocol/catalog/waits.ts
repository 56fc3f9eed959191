import { z } from "zod";
import { endpoint } from "../endpoint";
import { WaitGraph } from "../wait-graph";

export const waitRoutes = {
  runWaits: endpoint({
    method: "GET",
    path: "/api/runs/:id/waits",
    tag: "runs",
    auth: "user",
    summary:
      "A run's wait-for graph: each blocked ss-get (who waits for which key of whom, since when) and, when the run " +
      "is stuck, the diagnosis (deadlock or dead producer) in one sentence; `run:waits` pushes its changes",
    params: z.object({ id: z.string().min(1).max(100) }),
    response: WaitGraph,
    errors: ["NOT_FOUND"],
  }),
};
