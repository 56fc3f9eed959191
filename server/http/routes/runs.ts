import { API } from "../../../protocol/catalog/index.js";
import { SlipError } from "../../../protocol/errors.js";
import type { AuthedUser } from "../../auth/service.js";
import { missingContainerImage } from "../../connectors/docker/run-images.js";
import type { AppContext } from "../../context.js";
import { runOptions } from "../../modules/run-options.js";
import { createRun } from "../../runs/create.js";
import { readEvents } from "../../runs/event-log.js";
import { listRuns } from "../../runs/list-runs.js";
import type { RunRuntime } from "../../runs/runtime.js";
import { scaleRun } from "../../runs/scale.js";
import type { Router } from "../router.js";

/** Runs: launch, list, read, steer (owner or admin) and scale. */
export function registerRunRoutes(router: Router, app: AppContext): void {
  const { runs, modules } = app;
  const steerable = (u: AuthedUser, id: string): RunRuntime => {
    const rt = runs.get(id);
    if (u.role !== "admin" && rt.ownerId !== u.id) {
      throw new SlipError("FORBIDDEN", `only ${rt.owner} (the run's owner) or an admin may change run ${rt.id}`);
    }
    return rt;
  };
  const actor = (u: AuthedUser) => `user:${u.username}`;
  router
    .route(API.runOptions, ({ user, query }) => runOptions(app, user, query.module))
    .route(API.createRun, ({ user, body }) => {
      app.ops.lifecycle.refuseNewRun();
      const rt = createRun(
        runs,
        modules,
        user,
        body,
        {
          keepRunning: user.profile.keepRunning,
          cloud: user.profile.defaultCloud,
          timeoutMinutes: user.profile.runTimeoutMinutes,
          lostAfterSeconds: user.profile.lostAfterSeconds,
          keptMaxHours: user.profile.keptRunMaxHours,
          stuckRunAbortSeconds: user.profile.stuckRunAbortSeconds,
        },
        new Set(app.connectors.keys()),
        (cloud) => app.cloudRefusal(user, cloud),
        missingContainerImage(app.connectors),
      );
      app.deadlines.arm();
      return runs.detail(rt);
    })
    .route(API.listRuns, ({ user, query }) => listRuns(app.db, user, query))
    .route(API.getRun, ({ params }) => runs.detail(runs.get(params.id)))
    .route(API.runParams, ({ params }) => {
      const rt = runs.get(params.id);
      const list = [...rt.params.entries()]
        .map(([key, p]) => ({
          key,
          value: p.value,
          category: p.category,
          description: p.description,
          updatedSeq: p.seq,
        }))
        .sort((a, b) => a.key.localeCompare(b.key));
      return { params: list, lastSeq: rt.lastSeq };
    })
    .route(API.setParam, ({ user, params, body }) => {
      const rt = steerable(user, params.id);
      // a person setting a value by hand is debugging: the abort flag does not stop them
      return { seq: runs.setParam(rt, params.key, body.value, { ignoreAbort: true }, actor(user), false) };
    })
    .route(API.runEvents, ({ params, query }) => {
      const rt = runs.get(params.id);
      // a page is at most `limit` events and about 4 MiB: a client pages on from the last seq it got
      const events = readEvents(app.db, rt.id, query.since, query.limit, query.type, 4 * 1024 * 1024);
      return { events, lastSeq: rt.lastSeq };
    })
    .route(API.instanceLog, ({ params, query }) => {
      const rt = runs.get(params.id);
      if (!rt.instances.has(params.instance)) {
        throw new SlipError("NOT_FOUND", `run ${rt.id} has no instance '${params.instance}'`);
      }
      // the event log's own pages (about 4 MiB at most, whatever the limit), the instance's log events only
      const actor = `node:${params.instance}`;
      const events = readEvents(app.db, rt.id, query.since, query.limit, "log", 4 * 1024 * 1024, actor);
      const chunks = events.flatMap((e) =>
        e.body.type === "log"
          ? [{ seq: e.seq, at: e.at, target: e.body.target, stream: e.body.stream, data: e.body.data }]
          : [],
      );
      const lastSeq = events.at(-1)?.seq ?? query.since;
      return { chunks, lastSeq, more: readEvents(app.db, rt.id, lastSeq, 1, "log", undefined, actor).length > 0 };
    })
    .route(API.abortRun, ({ user, params, body }) => {
      const rt = steerable(user, params.id);
      runs.abort(rt, body.message, actor(user));
      return runs.detail(rt);
    })
    .route(API.resetAbort, ({ user, params }) => {
      const rt = steerable(user, params.id);
      runs.resetAbort(rt, actor(user));
      return runs.detail(rt);
    })
    .route(API.terminateRun, ({ user, params }) => {
      const rt = steerable(user, params.id);
      runs.terminate(rt, actor(user));
      return runs.detail(rt);
    })
    .route(API.scaleRun, ({ user, params, body }) => {
      const rt = steerable(user, params.id);
      const changed = scaleRun(runs, rt, body.node, body.add ?? null, body.remove ?? null, actor(user));
      app.deadlines.arm();
      return { ...runs.detail(rt), changed };
    });
}
