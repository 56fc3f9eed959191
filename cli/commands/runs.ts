import type { Command } from "commander";
import { API } from "../../protocol/catalog/index.js";
import type { EndpointInput } from "../../protocol/endpoint.js";
import { apiFor } from "../context.js";
import { CliError, EXIT } from "../errors.js";
import { printJson, println, table, when } from "../format.js";

export function registerRuns(program: Command): void {
  program
    .command("runs")
    .description("list runs, newest first")
    .option("--active", "only runs that have not ended")
    .option("--state <state>", "only runs in this state (Ready, Done, Aborted, …)")
    .option("--mine", "only my runs")
    .option("--owner <username>", "only this user's runs")
    .option("--module <path>", "only runs of this module (or modules under this path)")
    .option("--tag <tag>", "only runs with this tag")
    .option("--limit <n>", "at most this many runs (default 200)")
    .option("--json", "print the API's JSON")
    .action(
      async (
        opts: {
          active?: boolean;
          state?: string;
          mine?: boolean;
          owner?: string;
          module?: string;
          tag?: string;
          limit?: string;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        if (opts.active && opts.state) throw new CliError(EXIT.USAGE, "give --active or --state, not both");
        const api = await apiFor(cmd);
        // the server checks the state and the limit, and its refusal names them
        const query = {
          state: opts.active ? "active" : opts.state,
          mine: opts.mine ? "true" : undefined,
          owner: opts.owner,
          module: opts.module,
          tag: opts.tag,
          limit: opts.limit,
        } as unknown as EndpointInput<typeof API.listRuns>["query"];
        const res = await api.call(API.listRuns, { query });
        if (opts.json) return printJson(res);
        if (res.runs.length === 0) return println("no runs");
        println(
          table(
            ["ID", "MODULE", "STATE", "OWNER", "CREATED", "ABORT"],
            res.runs.map((r) => [r.id, r.module, r.state, r.owner, when(r.createdAt), r.abort ?? ""]),
          ),
        );
        if (res.more) println(`… more runs; --limit shows more`);
      },
    );
}
