import type { Command } from "commander";
import { API } from "../../protocol/catalog/index.js";
import { apiFor } from "../context.js";
import { CliError, EXIT } from "../errors.js";
import { printJson, println, table } from "../format.js";
import { RUN_ARG, resolveRun } from "../run-ref.js";

export function registerResults(program: Command): void {
  program
    .command("results")
    .description(
      "a run's test results: a verdict per instance and the JUnit files its reports hold; --junit writes them as JUnit XML",
    )
    .argument("<run>", RUN_ARG)
    .option("--junit <file>", "write the results as JUnit XML into FILE")
    .option("--json", "print the results as JSON")
    .option("--check", "exit 1 when an instance failed or errored or a JUnit test failed")
    .action(async (ref: string, opts: { junit?: string; json?: boolean; check?: boolean }, cmd: Command) => {
      const api = await apiFor(cmd);
      const runId = await resolveRun(api, ref);
      const r = await api.call(API.runTestResults, { params: { id: runId } });
      if (opts.junit !== undefined) await api.download(API.runJunit, { params: { id: runId } }, opts.junit);
      if (opts.json) printJson(r);
      else {
        println(`Run ${r.runId}  ${r.module}  ${r.state}`);
        println(
          table(
            ["INSTANCE", "OUTCOME", "WHY", "REPORTS"],
            r.instances.map((i) => [i.instance, i.outcome, i.message ?? "", String(i.reports.length)]),
          ),
        );
        const j = r.junit;
        if (j.suites.length > 0) {
          println();
          println(`JUnit: ${j.tests} tests, ${j.failures} failures, ${j.errors} errors, ${j.skipped} skipped`);
          println(
            table(
              ["INSTANCE", "SUITE", "TESTS", "FAILURES", "ERRORS", "SKIPPED", "FILE"],
              j.suites.map((s) => [
                s.instance ?? "orchestrator",
                s.name,
                String(s.tests),
                String(s.failures),
                String(s.errors),
                String(s.skipped),
                s.file,
              ]),
            ),
          );
          for (const s of j.suites) {
            for (const c of s.cases) {
              if (c.status === "failed" || c.status === "error") {
                println(
                  `  ✗ ${s.instance ?? "orchestrator"}: ${c.classname ? `${c.classname}.` : ""}${c.name}: ${c.message ?? c.status}`,
                );
              }
            }
          }
        }
        for (const p of j.problems) println(`  ! ${p.report} ${p.file}: ${p.message}`);
        if (opts.junit !== undefined) println(`JUnit XML → ${opts.junit}`);
      }
      const failing =
        r.instances.some((i) => i.outcome === "failed" || i.outcome === "error") ||
        r.junit.failures + r.junit.errors > 0;
      if (opts.check && failing) throw new CliError(EXIT.RUN_FAILED, `run ${runId} has failures`);
    });
}

export function registerSnapshot(program: Command): void {
  program
    .command("snapshot")
    .description(
      "export a run's whole history as JSON (the run, its parameters, reports listed, every event); the dashboard opens it offline at /runs/snapshot",
    )
    .argument("<run>", RUN_ARG)
    .option("--out <file>", "write into FILE instead of stdout")
    .action(async (ref: string, opts: { out?: string }, cmd: Command) => {
      const api = await apiFor(cmd);
      const runId = await resolveRun(api, ref);
      if (opts.out !== undefined) {
        await api.download(API.runSnapshot, { params: { id: runId } }, opts.out);
        process.stderr.write(`snapshot of ${runId} → ${opts.out}\n`);
        return;
      }
      // stdout is not closed after: the process still prints its errors and exits
      await api
        .pipeTo(API.runSnapshot, { params: { id: runId } }, process.stdout)
        .catch((err: NodeJS.ErrnoException) => {
          if (err.code !== "EPIPE") throw err;
        });
    });
}
