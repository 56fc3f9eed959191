import type { Command } from "commander";
import { API } from "../../protocol/catalog/index.js";
import { apiFor, progressWriter } from "../context.js";
import { CliError, EXIT, usage } from "../errors.js";
import { printJson, println } from "../format.js";
import { downloadReports } from "../reports.js";
import { buildRunBody, collect, type RunFlags } from "../run-options.js";
import { followRunToEnd } from "../wait.js";

interface RunOptions extends RunFlags {
  reports?: string;
  json?: boolean;
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
    .action(async (module: string, opts: RunOptions, cmd: Command) => {
      if (opts.reports !== undefined && !opts.wait) {
        throw usage("--reports: needs --wait (or, later: slipstream reports RUN --out DIR)");
      }
      const body = buildRunBody(module, opts);
      const api = await apiFor(cmd);
      const run = await api.call(API.createRun, { body });
      const link = `${api.url}/runs/${run.id}`;
      if (!opts.wait) {
        if (opts.json) return printJson(run);
        println(`Run ${run.id}  ${run.module}  (keep-running: ${run.keepRunning})`);
        println(link);
        return;
      }
      const write = progressWriter(opts.json);
      write(`Run ${run.id}  ${run.module}  (keep-running: ${run.keepRunning})`);
      write(link);
      const progress = await followRunToEnd(api, run, write);
      if (opts.reports !== undefined) {
        const got = await downloadReports(api, run.id, opts.reports);
        for (const r of got) {
          write(`report ${r.name} → ${r.dir}`);
          if (r.skipped.length) write(`  not unpacked (only files and directories are): ${r.skipped.join(", ")}`);
        }
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
