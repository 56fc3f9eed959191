import { z } from "zod";
import { AbortBody, CreateRunBody, EventsQuery, RunsQuery, ScaleBody, SetParamBody } from "../api";
import { endpoint } from "../endpoint";
import { ModulePath } from "../modules";
import { InstanceName, KeepRunning, ReportInfo, RunDetail, RunEvent, RunState, RunSummary, RuntimeParam } from "../run";

/** What the Run… dialog offers: per node multiplicity and cloud, every literal (unmapped) input with its default. */
export const RunOptions = z.object({
  module: z.string(),
  kind: z.enum(["image", "deployment"]),
  nodes: z.array(
    z.object({
      name: z.string(),
      image: z.string(),
      multiplicity: z.number().int(),
      cloud: z.string(),
      inputs: z.array(
        z.object({
          name: z.string(),
          description: z.string(),
          /** `node:output` when the deployment maps it (not a literal the dialog may change) */
          mappedFrom: z.string().nullable(),
          value: z.string().nullable(),
        }),
      ),
    }),
  ),
  clouds: z.array(z.string()),
  /** clouds this user may not start machines on, with the reason the Run… dialog shows */
  unavailable: z.record(z.string(), z.string()),
  defaults: z.object({ keepRunning: KeepRunning, timeoutMinutes: z.number().int() }),
});
export type RunOptions = z.infer<typeof RunOptions>;

const RunId = z.object({ id: z.string().min(1).max(100) });
const RUN_STEER = ["NOT_FOUND", "FORBIDDEN", "CONFLICT"] as const;

export const runRoutes = {
  runOptions: endpoint({
    method: "GET",
    path: "/api/run-options",
    tag: "runs",
    auth: "user",
    summary: "What the Run… dialog offers for a module",
    query: z.strictObject({ module: ModulePath }),
    response: RunOptions,
    errors: ["NOT_FOUND"],
  }),
  createRun: endpoint({
    method: "POST",
    path: "/api/runs",
    tag: "runs",
    auth: "user",
    summary: "Launch a run of an image or a deployment",
    body: CreateRunBody,
    status: 201,
    response: RunDetail,
    // UNAVAILABLE: the server is draining (SIGTERM) and starts no new run
    errors: ["NOT_FOUND", "FORBIDDEN", "LIMIT_EXCEEDED", "UNAVAILABLE"],
  }),
  listRuns: endpoint({
    method: "GET",
    path: "/api/runs",
    tag: "runs",
    auth: "user",
    summary:
      "A page of runs, newest first, filtered by state (or `active`), owner, module folder, the start of the id, tag and " +
      "creation time; " +
      "`counts` per state for the same filters but the state; page on with `before` = the answer's `next`",
    query: RunsQuery,
    response: z.object({
      runs: z.array(RunSummary),
      /** whether older runs match after this page */
      more: z.boolean(),
      /** the cursor of this page's last row, to pass as `before` (null when the page is empty) */
      next: z.string().nullable(),
      /** how many runs are in each state for these filters, whatever the `state` filter (states with none: 0) */
      counts: z.record(RunState, z.number().int()),
    }),
  }),
  getRun: endpoint({
    method: "GET",
    path: "/api/runs/:id",
    tag: "runs",
    auth: "user",
    summary: "A run: its state, instances, nodes and the actions its state allows",
    params: RunId,
    response: RunDetail,
    errors: ["NOT_FOUND"],
  }),
  runParams: endpoint({
    method: "GET",
    path: "/api/runs/:id/params",
    tag: "runs",
    auth: "user",
    summary: "Every runtime parameter of a run, by key",
    params: RunId,
    response: z.object({ params: z.array(RuntimeParam), lastSeq: z.number().int() }),
    errors: ["NOT_FOUND"],
  }),
  setParam: endpoint({
    method: "PUT",
    path: "/api/runs/:id/params/*key",
    tag: "runs",
    auth: "user",
    summary: "Set a runtime parameter by hand (debugging: the abort flag does not stop it)",
    params: z.object({ id: RunId.shape.id, key: z.string().min(1).max(300) }),
    body: SetParamBody,
    response: z.object({ seq: z.number().int().nullable() }),
    errors: [...RUN_STEER, "UNKNOWN_KEY", "LIMIT_EXCEEDED"],
  }),
  runEvents: endpoint({
    method: "GET",
    path: "/api/runs/:id/events",
    tag: "runs",
    auth: "user",
    summary: "A page of a run's event log after `since` (at most `limit` events and about 4 MiB)",
    params: RunId,
    query: EventsQuery,
    response: z.object({ events: z.array(RunEvent), lastSeq: z.number().int() }),
    errors: ["NOT_FOUND"],
  }),
  abortRun: endpoint({
    method: "POST",
    path: "/api/runs/:id/abort",
    tag: "runs",
    auth: "user",
    summary: "Abort a run with a message: every waiting ss-get returns, scripts stop, reports are collected",
    params: RunId,
    body: AbortBody,
    response: RunDetail,
    errors: RUN_STEER,
  }),
  resetAbort: endpoint({
    method: "POST",
    path: "/api/runs/:id/abort/cancel",
    tag: "runs",
    auth: "user",
    summary: "Clear a run's abort flags (to debug and go on)",
    params: RunId,
    response: RunDetail,
    errors: RUN_STEER,
  }),
  terminateRun: endpoint({
    method: "POST",
    path: "/api/runs/:id/terminate",
    tag: "runs",
    auth: "user",
    summary: "Stop every machine of a run",
    params: RunId,
    response: RunDetail,
    errors: RUN_STEER,
  }),
  scaleRun: endpoint({
    method: "POST",
    path: "/api/runs/:id/scale",
    tag: "runs",
    auth: "user",
    summary: "Add instances to a node or remove some, in a scalable run in Ready",
    params: RunId,
    body: ScaleBody,
    response: RunDetail.extend({ changed: z.array(z.string()) }),
    errors: [...RUN_STEER, "LIMIT_EXCEEDED"],
  }),
  instanceLog: endpoint({
    method: "GET",
    path: "/api/runs/:id/instances/:instance/log",
    tag: "runs",
    auth: "user",
    summary: "A page of one instance's log, oldest first: its chunks after `since` (a seq); page on from `lastSeq`",
    params: z.object({ id: RunId.shape.id, instance: InstanceName }),
    query: z.strictObject({
      since: z.coerce.number().int().min(0).default(0),
      limit: z.coerce.number().int().min(1).max(1000).default(200),
    }),
    response: z.object({
      chunks: z.array(
        z.object({
          seq: z.number().int(),
          at: z.string(),
          target: z.string(),
          stream: z.enum(["stdout", "stderr", "agent"]),
          data: z.string(),
        }),
      ),
      /** the seq of the last chunk in this page (`since` when it is empty): ask again from it */
      lastSeq: z.number().int(),
      /** whether chunks after this page were already there when it was read */
      more: z.boolean(),
    }),
    errors: ["NOT_FOUND"],
  }),
  runReports: endpoint({
    method: "GET",
    path: "/api/runs/:id/reports",
    tag: "reports",
    auth: "user",
    summary: "The reports collected from a run's machines",
    params: RunId,
    response: z.object({ reports: z.array(ReportInfo) }),
    errors: ["NOT_FOUND"],
  }),
  // `reports.tgz` is a segment of its own: no report name (`/reports/:name`) can reach it, nor it one
  downloadReportsArchive: endpoint({
    method: "GET",
    path: "/api/runs/:id/reports.tgz",
    tag: "reports",
    auth: "user",
    summary: "Download every report of a run as one gzipped tarball (each report a .tgz inside it, under <run id>/)",
    params: RunId,
    response: { raw: "application/gzip" },
    errors: ["NOT_FOUND"],
  }),
  downloadReport: endpoint({
    method: "GET",
    path: "/api/runs/:id/reports/:name",
    tag: "reports",
    auth: "user",
    summary: "Download one report (a gzipped tarball)",
    params: z.object({ id: RunId.shape.id, name: z.string().min(1).max(300) }),
    response: { raw: "application/gzip" },
    errors: ["NOT_FOUND"],
  }),
  uploadReport: endpoint({
    method: "POST",
    path: "/api/agent/reports",
    tag: "agent",
    auth: "agent",
    summary: "An agent sends its instance's report: a gzipped tarball as the body, named <instance>_report_<time>.tgz",
    query: z.strictObject({ name: z.string().max(300) }),
    requestRaw: "application/gzip",
    status: 201,
    response: z.object({ name: z.string(), size: z.number().int() }),
    errors: ["PAYLOAD_TOO_LARGE", "LIMIT_EXCEEDED", "STORAGE_FULL"],
  }),
};
