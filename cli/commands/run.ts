import type { Command } from "commander";
import { API } from "../../protocol/catalog/index.js";
import { apiFor, progressWriter } from "../context.js";
import { dryRun } from "../dry-run.js";
import { CliError, EXIT, usage } from "../errors.js";
import { printJson, println } from "../format.js";
import { downloadReports } from "../reports.js";
import { holdLease, leaseGrace } from "../run-lease.js";
import { buildRunBody, collect, type RunFlags } from "../run-options.js";
import { followRunToEnd } from "../wait.js";

interface RunOptions extends RunFlags {
  reports?: string;
  json?: boolean;
  dryRun?: boolean;
  /** false with --no-lease */
  lease?: boolean;
  leaseGrace?: string;
  junit?: string;
  output?: string;
}

export function registerRun(program: Command): void {
  program
    .command("run")
    .description("launch a run of a deployment or image; --wait follows it live to its end")
    .argument("<module>", "module path, e.g. examples/tutorials/service-testing/system")
    .option("--multiplicity <node=N>", "instances of a node (repeatable)", collect)
    .option("--param <node:name=value>", "input parameter value (repeatable)", collect)
    .option("--cloud <node=CLOUD>", "cloud of a node (repeatable)", collect)
    .option("--keep-running <mode>", "always | on-success | on-error | never (default: your profile's)")
    .option("--scalable", "allow adding and removing instances while Ready")
    .option("--tags <a,b>", "comma-separated tags (repeatable)", collect)
    .option("--timeout <minutes>", "run timeout in minutes (default: your profile's)")
    .option("--kept-max <hours>", "terminate the run after this long kept in Ready (default: your profile's)")
    .option(
      "--lost-after <seconds>",
      "how long a machine's agent may stay unresponsive before the machine is lost and the run aborts (default: your profile's, 60)",
    )
    .option(
      "--wait",
      "follow the run live until it ends, or is kept in Ready by keep-running; exit 0 on Done (or kept, not aborted), 1 on Aborted or Cancelled (or kept, aborted)",
    )
    .option("--reports <dir>", "with --wait: download and unpack the reports into DIR/<run id>/")
    .option("--json", "print the run as JSON (with --wait: the final run; progress goes to stderr)")
    .option(
      "--dry-run",
      "check the run (modules, mappings, clouds, the recipes' ss-get/ss-set keys, wait cycles) without starting it; exit 2 on errors",
    )
    .option(
      "--lease-grace <seconds>",
      "with --wait: the run is terminated this long after this command is gone (default 30)",
    )
    .option("--no-lease", "with --wait: hold no lease; the run goes on when this command is killed")
    .option(
      "--junit <file>",
      "with --wait: write the run's results as JUnit XML (one test case per instance, then the JUnit files its reports hold)",
    )
    .option(
      "--output <format>",
      "with --wait: ndjson streams every event of the run as one JSON line (progress goes to stderr)",
    )
    .action(async (module: string, opts: RunOptions, cmd: Command) => {
      if (opts.reports !== undefined && !opts.wait) {
        throw usage("--reports: needs --wait (or, later: slipstream reports RUN --out DIR)");
      }
      if (opts.junit !== undefined && !opts.wait)
        throw usage("--junit: needs --wait (or: slipstream junit RUN --out FILE)");
      if (opts.output !== undefined && opts.output !== "ndjson")
        throw usage(`--output: must be ndjson, not '${opts.output}'`);
      if (opts.output !== undefined && !opts.wait) throw usage("--output: needs --wait");
      if (opts.output !== undefined && opts.json) throw usage("--output ndjson and --json: choose one");
      if (opts.dryRun && opts.wait) throw usage("--dry-run: starts nothing, so there is nothing to --wait for");
      const grace = leaseGrace(opts.leaseGrace);
      const body = buildRunBody(module, opts);
      const api = await apiFor(cmd);
      if (opts.dryRun) return dryRun(api, body, opts.json);
      const run = await api.call(API.createRun, { body });
      const link = `${api.url}/runs/${run.id}`;
      if (!opts.wait) {
        if (opts.json) return printJson(run);
        println(`Run ${run.id}  ${run.module}  (keep-running: ${run.keepRunning})`);
        println(link);
        return;
      }
      const ndjson = opts.output === "ndjson";
      const write = progressWriter(opts.json || ndjson);
      write(`Run ${run.id}  ${run.module}  (keep-running: ${run.keepRunning})`);
      write(link);
      // CI: a killed `run --wait` must not leave its machines running (the server ends the run past the grace)
      const lease = opts.lease === false ? null : await holdLease(api, run.id, grace, write);
      const progress = await followRunToEnd(
        api,
        run,
        write,
        ndjson ? (e) => process.stdout.write(`${JSON.stringify(e)}\n`) : undefined,
      );
      // ended, or kept in Ready (which no lease ends): nothing left to hold
      await lease?.release();
      if (opts.reports !== undefined) {
        const got = await downloadReports(api, run.id, opts.reports);
        for (const r of got) {
          write(`report ${r.name} → ${r.dir}`);
          if (r.skipped.length) write(`  not unpacked (only files and directories are): ${r.skipped.join(", ")}`);
        }
      }
      if (opts.junit !== undefined) {
        await api.download(API.runJunit, { params: { id: run.id } }, opts.junit);
        write(`JUnit results → ${opts.junit}`);
      }
      const final = await api.call(API.getRun, { params: { id: run.id } });
      if (opts.json) printJson(final);
      if (progress.kept && final.state === "Ready") {
        // kept for debugging (or scaling): it waits for a person; say how to end it
        write(`run ${run.id} is kept in Ready: its machines stay up until you run: slipstream terminate ${run.id}`);
        if (final.abort !== null) throw new CliError(EXIT.RUN_FAILED, `run ${run.id} aborted: ${final.abort}`);
        return;
      }
      if (final.state !== "Done") {
        throw new CliError(
          EXIT.RUN_FAILED,
          `run ${run.id} ended ${final.state}${final.abort ? `: ${final.abort}` : ""}`,
        );
      }
    });
}
