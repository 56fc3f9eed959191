import { API } from "../../../protocol/catalog/index.js";
import type { AppContext } from "../../context.js";
import { compareRuns, replayAt } from "../../runs/replay.js";
import type { Router } from "../router.js";

/** Replay and diff: a run at a past event, two runs of a module side by side. Anyone who may read runs may ask. */
export function registerReplayRoutes(router: Router, app: AppContext): void {
  const { runs } = app;
  router
    .route(API.replayRun, ({ params, query }) => replayAt(runs, runs.get(params.id), query.at))
    .route(API.diffRuns, ({ params }) => compareRuns(runs, runs.get(params.id), runs.get(params.other)));
}
