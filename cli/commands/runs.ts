import type { Command } from "commander";
import type { RunSummary } from "../../protocol/run.js";
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
        const q = new URLSearchParams();
        if (opts.active) q.set("state", "active");
        if (opts.mine) q.set("mine", "true");
        if (opts.module) q.set("module", opts.module);
        if (opts.tag) q.set("tag", opts.tag);
        const api = await apiFor(cmd);
        const res = await api.get<{ runs: RunSummary[] }>(`/api/runs${q.size ? `?${q}` : ""}`);
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
