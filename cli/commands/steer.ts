import type { Command } from "commander";
import { API } from "../../protocol/catalog/index.js";
import { apiFor } from "../context.js";
import { usage } from "../errors.js";
import { println } from "../format.js";
import { RUN_ARG, resolveRun } from "../run-ref.js";
import { parseScaleArgs } from "../scale-args.js";

export function registerSteering(program: Command): void {
  program
    .command("abort")
    .description("abort a run (first message wins); --cancel resets the abort flag and recovery mode")
    .argument("<run>", RUN_ARG)
    .argument("[message]", "why (default: 'Aborted by user')")
    .option("--cancel", "reset the abort instead (interactive debugging)")
    .action(async (ref: string, message: string | undefined, opts: { cancel?: boolean }, cmd: Command) => {
      if (opts.cancel && message !== undefined) throw usage("abort --cancel takes no message");
      if (!opts.cancel && message !== undefined && message.trim() === "") throw usage("MSG: must not be empty");
      const api = await apiFor(cmd);
      const runId = await resolveRun(api, ref);
      if (opts.cancel) {
        const run = await api.call(API.resetAbort, { params: { id: runId } });
        println(`Run ${run.id}: abort reset (state ${run.state})`);
        return;
      }
      const run = await api.call(API.abortRun, {
        params: { id: runId },
        body: message === undefined ? {} : { message },
      });
      println(`Run ${run.id}: aborted: ${run.abort} (state ${run.state})`);
    });

  program
    .command("terminate")
    .description("stop a run: before Ready it ends Cancelled; from Ready it finalizes to Done or Aborted")
    .argument("<run>", RUN_ARG)
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const api = await apiFor(cmd);
      const runId = await resolveRun(api, ref);
      const run = await api.call(API.terminateRun, { params: { id: runId } });
      println(`Run ${run.id}: terminating (state ${run.state})`);
    });

  program
    .command("scale")
    .description("add (+N) or remove (-ID…) instances of a node of a scalable run in Ready")
    .argument("<run>", RUN_ARG)
    .argument("<node>", "node name, e.g. client")
    .argument("<changes...>", "+N to add N instances, or -ID… to remove instances, e.g. -3 -4")
    // `-3` looks like an option: let it through as an argument (the parser below names a bad one)
    .allowUnknownOption()
    .action(async (ref: string, node: string, changes: string[], _opts: unknown, cmd: Command) => {
      const body = parseScaleArgs(node, changes);
      const api = await apiFor(cmd);
      const runId = await resolveRun(api, ref);
      const res = await api.call(API.scaleRun, { params: { id: runId }, body });
      const verb = "add" in body ? "adding" : "removing";
      println(`Run ${res.id}: ${verb} ${res.changed.join(", ")} (state ${res.state})`);
    });
}
