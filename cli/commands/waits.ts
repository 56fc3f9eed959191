import type { Command } from "commander";
import { API } from "../../protocol/catalog/index.js";
import type { WaitGraph } from "../../protocol/wait-graph.js";
import type { ApiClient } from "../api-client.js";
import { apiFor } from "../context.js";
import { elapsed, printJson, println, table } from "../format.js";
import { RUN_ARG, resolveRun } from "../run-ref.js";

/** The graph as text: one row per blocked wait, its duration counted on the server's clock, then the diagnosis. */
export function waitGraphText(graph: WaitGraph): string[] {
  const at = Date.parse(graph.at);
  if (graph.edges.length === 0) return ["no instance is waiting"];
  const rows = graph.edges.map((e) => [
    e.from,
    e.key,
    e.producer === "instance" ? e.to : `(${e.to})`,
    e.via ?? "",
    elapsed(at - Date.parse(e.since)),
  ]);
  const lines = table(["WAITING", "KEY", "SET BY", "AS", "FOR"], rows).split("\n");
  if (graph.diagnosis) lines.push("", stuckText(graph));
  return lines;
}

const stuckText = (graph: WaitGraph) =>
  graph.diagnosis ? `STUCK (${graph.diagnosis.kind}): ${graph.diagnosis.sentence}` : "";

/** For `status`: the diagnosis of an active run's waits, or nothing when it is not stuck. */
export async function stuckLine(api: ApiClient, runId: string): Promise<string | null> {
  const graph = await api.call(API.runWaits, { params: { id: runId } });
  return graph.diagnosis ? stuckText(graph) : null;
}

export function registerWaits(program: Command): void {
  program
    .command("waits")
    .description(
      "who waits for which key of whom, for how long, and whether the run is stuck (deadlock, dead producer)",
    )
    .argument("<run>", RUN_ARG)
    .option("--json", "print the API's JSON")
    .action(async (ref: string, opts: { json?: boolean }, cmd: Command) => {
      const api = await apiFor(cmd);
      const runId = await resolveRun(api, ref);
      const graph = await api.call(API.runWaits, { params: { id: runId } });
      if (opts.json) return printJson(graph);
      for (const line of waitGraphText(graph)) println(line);
    });
}
