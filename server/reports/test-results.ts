import { type JunitDocument, renderJunit, totals } from "../../core/junit.js";
import { instanceOutcome } from "../../core/run-results.js";
import type { InstanceResult, RunTestResults, TestSuite } from "../../protocol/catalog/results.js";
import type { AppContext } from "../context.js";
import type { RunRuntime } from "../runs/runtime.js";
import { ReportScans } from "./junit-scan.js";

/** How much of a failed instance's log a JUnit failure carries: what a CI shows next to the test's name. */
const LOG_TAIL_LINES = 40;
const LOG_TAIL_CHARS = 4000;

/** A run's results for a CI: a verdict per instance and the JUnit files of its reports. */
export class TestResults {
  private readonly scans = new ReportScans();

  constructor(private readonly app: AppContext) {}

  async of(rt: RunRuntime): Promise<RunTestResults> {
    const db = this.app.db.$client;
    const detail = this.app.runs.detail(rt);
    const executesFinished =
      db
        .prepare("select 1 from events where run_id = ? and type = 'state' and json_extract(body, '$.to') = ? limit 1")
        .get(rt.id, "SendingReports") !== undefined;
    const reports = db
      .prepare("select name, instance from reports where run_id = ? order by created_at, name")
      .all(rt.id) as { name: string; instance: string | null }[];
    const instances: InstanceResult[] = [...detail.instances]
      .sort((a, b) => a.node.localeCompare(b.node) || a.index - b.index)
      .map((i) => {
        const record = rt.instances.get(i.name);
        const verdict = instanceOutcome({
          runState: rt.state,
          runAbort: rt.abort,
          executesFinished,
          ownAbort: rt.params.get(`${i.name}:abort`)?.value ?? null,
          machine: record?.status ?? "pending",
          lost: rt.lost.has(i.name),
          cameUp: i.cameUp,
          completedNow: i.completed,
        });
        return {
          instance: i.name,
          node: i.node,
          ...verdict,
          reports: reports.filter((r) => r.instance === i.name).map((r) => r.name),
        };
      });

    const suites: TestSuite[] = [];
    const problems: RunTestResults["junit"]["problems"] = [];
    // per instance in the order the page lists them (the orchestrator's last), each one's reports oldest first
    const order = new Map(instances.map((i, n) => [i.instance, n]));
    const rank = (r: { instance: string | null }) =>
      r.instance === null ? instances.length : (order.get(r.instance) ?? instances.length);
    for (const r of [...reports].sort((a, b) => rank(a) - rank(b))) {
      const scan = await this.scans.get(`${rt.id}/${r.name}`, this.app.reports.file(rt.id, r.name));
      for (const s of scan.suites) suites.push({ ...s, instance: r.instance, report: r.name });
      for (const p of scan.problems) problems.push({ report: r.name, ...p });
    }
    return {
      runId: rt.id,
      module: rt.spec.module,
      state: rt.state,
      instances,
      junit: { ...totals(suites), suites, problems },
    };
  }

  /** The last lines an instance's recipe printed (its log events, newest first, read until enough lines). */
  private logTail(rt: RunRuntime, instance: string): string {
    const rows = this.app.db.$client
      .prepare("select body from events where run_id = ? and actor = ? and type = 'log' order by seq desc limit 200")
      .iterate(rt.id, `node:${instance}`) as IterableIterator<{ body: string }>;
    const parts: string[] = [];
    let chars = 0;
    let lines = 0;
    for (const row of rows) {
      const data = (JSON.parse(row.body) as { data?: string }).data ?? "";
      parts.unshift(data);
      chars += data.length;
      lines += data.split("\n").length - 1;
      if (chars >= LOG_TAIL_CHARS || lines > LOG_TAIL_LINES) break;
    }
    const text = parts
      .join("")
      .split("\n")
      .slice(-LOG_TAIL_LINES - 1)
      .join("\n");
    return text.length > LOG_TAIL_CHARS ? text.slice(-LOG_TAIL_CHARS) : text;
  }

  /**
   * JUnit XML: a first suite with one test case per instance (classname: the module and node, as CIs group by
   * class), then every suite found in the reports, named after the instance whose report held it.
   */
  async junit(rt: RunRuntime): Promise<string> {
    const results = await this.of(rt);
    const classBase = results.module.replace(/\//g, ".");
    const cases = results.instances.map((i) => {
      const tail = i.outcome === "failed" || i.outcome === "error" ? this.logTail(rt, i.instance) : "";
      const reportLines = i.reports.map((name) => `report: ${name} (GET /api/runs/${rt.id}/reports/${name})`);
      return {
        name: i.instance,
        classname: `${classBase}.${i.node}`,
        time: null,
        status: i.outcome === "running" ? ("skipped" as const) : i.outcome,
        message: i.outcome === "running" ? `still running (the run is ${rt.state})` : i.message,
        details: tail ? `${i.message ?? ""}\n\n--- last lines of its log ---\n${tail}` : null,
        systemOut: reportLines.length > 0 ? reportLines.join("\n") : null,
      };
    });
    const doc: JunitDocument = {
      name: `slipstream run ${rt.id}`,
      suites: [
        {
          name: results.module,
          tests: cases.length,
          failures: cases.filter((c) => c.status === "failed").length,
          errors: cases.filter((c) => c.status === "error").length,
          skipped: cases.filter((c) => c.status === "skipped").length,
          time: null,
          cases,
          properties: {
            "slipstream.run": rt.id,
            "slipstream.module": results.module,
            "slipstream.state": rt.state,
            ...(rt.abort === null ? {} : { "slipstream.abort": rt.abort }),
          },
        },
        ...results.junit.suites.map((s) => ({
          ...s,
          name: `${s.instance ?? "orchestrator"}: ${s.name}`,
          properties: { report: s.report, file: s.file },
        })),
      ],
    };
    return renderJunit(doc);
  }
}
