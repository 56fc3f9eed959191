import { z } from "zod";
import { endpoint } from "../endpoint";
import { ReplayQuery, RunDiff, RunPair, RunReplay } from "../run-replay";

export const replayRoutes = {
  replayRun: endpoint({
    method: "GET",
    path: "/api/runs/:id/replay",
    tag: "runs",
    auth: "user",
    summary:
      "A run as it was just after event `at` of its log (its state, instances, parameters and reports then): the " +
      "run page's time slider",
    params: z.object({ id: RunPair.shape.id }),
    query: ReplayQuery,
    response: RunReplay,
    errors: ["NOT_FOUND"],
  }),
  diffRuns: endpoint({
    method: "GET",
    path: "/api/runs/:id/diff/:other",
    tag: "runs",
    auth: "user",
    summary:
      "Two runs of the same module side by side: parameter values, outcome per instance, time per state and per " +
      "instance, report files",
    params: RunPair,
    response: RunDiff,
    errors: ["NOT_FOUND", "BAD_REQUEST"],
  }),
};
