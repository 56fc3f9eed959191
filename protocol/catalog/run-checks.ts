import { z } from "zod";
import { CreateRunBody } from "../api";
import { endpoint } from "../endpoint";
import { RunCheckResult } from "../run-check";
import { LeaseBody, LeaseState } from "../run-lease";

const RunId = z.object({ id: z.string().min(1).max(100) });

/** A run checked before it exists (a dry run), and a client's lease on a run it follows. */
export const runCheckRoutes = {
  checkRun: endpoint({
    method: "POST",
    path: "/api/runs/check",
    tag: "runs",
    auth: "user",
    summary:
      "Dry run: check a run's body as POST /api/runs would (modules, mappings, parameters, multiplicities, clouds and " +
      "their access, limits) and its recipes' ss-get / ss-set keys and static wait cycles, starting nothing",
    body: CreateRunBody,
    response: RunCheckResult,
  }),
  takeLease: endpoint({
    method: "POST",
    path: "/api/runs/:id/lease",
    tag: "runs",
    auth: "user",
    summary:
      "Take or renew (a heartbeat) a lease on a run: without a renewal within `graceSeconds` the server terminates " +
      "the run, unless keep-running keeps it in Ready",
    params: RunId,
    body: LeaseBody,
    response: LeaseState,
    errors: ["NOT_FOUND", "FORBIDDEN", "CONFLICT"],
  }),
  releaseLease: endpoint({
    method: "DELETE",
    path: "/api/runs/:id/lease",
    tag: "runs",
    auth: "user",
    summary: "Release a run's lease: the run goes on without anyone holding it (nothing when there is none)",
    params: RunId,
    response: LeaseState,
    errors: ["NOT_FOUND", "FORBIDDEN"],
  }),
};
