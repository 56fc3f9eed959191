import type { Command } from "commander";
import { API } from "../../protocol/catalog/index.js";
import { apiFor } from "../context.js";
import { printJson, println, table, when } from "../format.js";

export function registerRuns(program: Command): void {
  program
    .command("runs")
    .description("list runs, newest first")
    .option("--active", "only runs that have not ended")
    .option("--mine", "only my runs")
    .option("--module <path>", "only runs of this module (or modules under this path)")
    .option("--tag <tag>", "only runs with this tag")
    .option("--json", "print the API's JSON")
    .action(
      async (
        opts: { active?: boolean; mine?: boolean; module?: string; tag?: string; json?: boolean },
        cmd: Command,
      ) => {
        const api = await apiFor(cmd);
        const res = await api.call(API.listRuns, {
          query: {
            state: opts.active ? "active" : undefined,
            mine: opts.mine ? "true" : undefined,
            module: opts.module,
            tag: opts.tag,
          },
        });
        if (opts.json) return printJson(res);
        if (res.runs.length === 0) return println("no runs");
        println(
          table(
            ["ID", "MODULE", "STATE", "OWNER", "CREATED", "ABORT"],
            res.runs.map((r) => [r.id, r.module, r.state, r.owner, when(r.createdAt), r.abort ?? ""]),
          ),
        );
      },
    );
}
