import { API } from "../../../protocol/catalog/index.js";
import { SlipError } from "../../../protocol/errors.js";
import type { AuthedUser } from "../../auth/service.js";
import type { AppContext } from "../../context.js";
import { checkRun } from "../../runs/check.js";
import { runLeasesOf } from "../../runs/leases.js";
import type { RunRuntime } from "../../runs/runtime.js";
import type { Router } from "../router.js";

/** A dry run of a run's body (server/runs/check.ts), and a client's lease on a run (server/runs/leases.ts). */
export function registerRunCheckRoutes(router: Router, app: AppContext): void {
  const holdable = (u: AuthedUser, id: string): RunRuntime => {
    const rt = app.runs.get(id);
    if (u.role !== "admin" && rt.ownerId !== u.id) {
      throw new SlipError("FORBIDDEN", `only ${rt.owner} (the run's owner) or an admin may hold run ${rt.id}'s lease`);
    }
    return rt;
  };
  router
    .route(API.checkRun, ({ user, body }) => checkRun(app, user, body))
    .route(API.takeLease, ({ user, params, body }) =>
      runLeasesOf(app).take(holdable(user, params.id), body.graceSeconds, `user:${user.username}`),
    )
    .route(API.releaseLease, ({ user, params }) =>
      runLeasesOf(app).release(holdable(user, params.id), `user:${user.username}`),
    );
}
