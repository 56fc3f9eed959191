import { API } from "../../../protocol/catalog/index.js";
import type { AppContext } from "../../context.js";
import { waitGraphOf } from "../../runs/wait-graph-view.js";
import type { Router } from "../router.js";

/** A run's wait-for graph, taken now (the push `run:waits` follows its changes). */
export function registerWaitRoutes(router: Router, app: AppContext): void {
  router.route(API.runWaits, ({ params }) => waitGraphOf(app.runs.get(params.id)));
}
