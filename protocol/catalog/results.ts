import { z } from "zod";
import { endpoint } from "../endpoint";

/**
 * A run's test results, what a CI reads: one verdict per instance (did its recipe succeed, fail, or never get to
 * finish), and the JUnit XML files its nodes' reports hold, parsed.
 */

export const CaseStatus = z.enum(["passed", "failed", "error", "skipped"]);

export const TestCase = z.object({
  name: z.string(),
  classname: z.string(),
  time: z.number().nullable(),
  status: CaseStatus,
  message: z.string().nullable(),
  details: z.string().nullable(),
});
export type TestCase = z.infer<typeof TestCase>;

const Counts = {
  tests: z.number().int(),
  failures: z.number().int(),
  errors: z.number().int(),
  skipped: z.number().int(),
};

export const TestSuite = z.object({
  name: z.string(),
  ...Counts,
  time: z.number().nullable(),
  /** the instance whose report held the file */
  instance: z.string().nullable(),
  report: z.string(),
  /** the file's path inside the report */
  file: z.string(),
  /** at most 2,000 per suite; the counts are the file's own */
  cases: z.array(TestCase),
});
export type TestSuite = z.infer<typeof TestSuite>;

/**
 * An instance's verdict: `failed` when it aborted the run or its recipe failed, `error` when its machine failed or
 * was lost, `skipped` when another's abort or the run's end stopped it before its recipe finished, `running` while
 * the run goes on.
 */
export const InstanceOutcome = z.enum(["passed", "failed", "error", "skipped", "running"]);
export type InstanceOutcome = z.infer<typeof InstanceOutcome>;

export const InstanceResult = z.object({
  instance: z.string(),
  node: z.string(),
  outcome: InstanceOutcome,
  /** why it failed, errored or was skipped */
  message: z.string().nullable(),
  reports: z.array(z.string()),
});
export type InstanceResult = z.infer<typeof InstanceResult>;

export const RunTestResults = z.object({
  runId: z.string(),
  module: z.string(),
  state: z.string(),
  instances: z.array(InstanceResult),
  junit: z.object({
    ...Counts,
    suites: z.array(TestSuite),
    /** report files that looked like JUnit but could not be read, with why */
    problems: z.array(z.object({ report: z.string(), file: z.string(), message: z.string() })),
  }),
});
export type RunTestResults = z.infer<typeof RunTestResults>;

const RunId = z.object({ id: z.string().min(1).max(100) });

export const resultRoutes = {
  runTestResults: endpoint({
    method: "GET",
    path: "/api/runs/:id/test-results",
    tag: "reports",
    auth: "user",
    summary: "A run's verdict per instance and the JUnit XML files found in its nodes' reports, parsed",
    params: RunId,
    response: RunTestResults,
    errors: ["NOT_FOUND"],
  }),
  runSnapshot: endpoint({
    method: "GET",
    path: "/api/runs/:id/snapshot",
    tag: "runs",
    auth: "user",
    summary:
      "A run's whole history as one JSON file (a RunSnapshot: the run, its parameters, its reports listed, every event), which the dashboard opens offline",
    params: RunId,
    response: { raw: "application/json" },
    errors: ["NOT_FOUND"],
  }),
  runJunit: endpoint({
    method: "GET",
    path: "/api/runs/:id/junit.xml",
    tag: "reports",
    auth: "user",
    summary:
      "A run's results as JUnit XML for a CI: one test case per instance (a failure carries its abort message and log tail), then every JUnit suite found in its reports",
    params: RunId,
    response: { raw: "application/xml" },
    errors: ["NOT_FOUND"],
  }),
};
