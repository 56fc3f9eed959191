import type { Command } from "commander";
import { API } from "../../protocol/catalog/index.js";
import { ExtendRunBody } from "../../protocol/kept.js";
import { apiFor } from "../context.js";
import { usage } from "../errors.js";
import { println, when } from "../format.js";
import { RUN_ARG, resolveRun } from "../run-ref.js";

/** `slipstream extend RUN --hours N`: more time for a run kept in Ready before it is terminated (protocol/kept.ts). */
export function registerExtend(program: Command): void {
  program
    .command("extend")
    .description("give a run kept in Ready more time before it is terminated (owner or admin)")
    .argument("<run>", RUN_ARG)
    .requiredOption("--hours <n>", "hours added to its expiry (fractional allowed, e.g. 0.5)")
    .action(async (ref: string, opts: { hours: string }, cmd: Command) => {
      const hours = Number(opts.hours);
      const body = ExtendRunBody.safeParse({ hours: opts.hours.trim() === "" ? Number.NaN : hours });
      if (!body.success) throw usage(`--hours: '${opts.hours}' ${body.error.issues[0]?.message ?? "is not valid"}`);
      const api = await apiFor(cmd);
      const runId = await resolveRun(api, ref);
      const res = await api.call(API.extendRun, { params: { id: runId }, body: body.data });
      println(`Run ${res.id}: kept until ${when(res.keptUntil)}`);
    });
}
