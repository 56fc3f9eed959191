import type { Command } from "commander";
import { API } from "../../protocol/catalog/index.js";
import { debugCommands, type RunDetail, TERMINAL_STATES } from "../../protocol/run.js";
import { receiptLines } from "../abort-receipts.js";
import { apiFor } from "../context.js";
import { printJson, println, when } from "../format.js";
import { RUN_ARG, resolveRun } from "../run-ref.js";
import { stuckLine } from "./waits.js";

/** The per-instance lines of `status`: completion of the current state and how to reach the machine. */
function instanceLines(run: RunDetail, params: Map<string, string | null>): string[] {
  const lines: string[] = [];
  const ended = TERMINAL_STATES.includes(run.state);
  for (const node of run.nodes) {
    lines.push(`  ${node.name}  image ${node.image}  cloud ${node.cloud}  ×${node.multiplicity}`);
    const instances = run.instances.filter((i) => i.node === node.name).sort((a, b) => a.index - b.index);
    for (const i of instances) {
      const mark =
        i.liveness === "lost"
          ? "agent lost"
          : !i.live
            ? "removed"
            : ended
              ? ""
              : i.liveness === "unresponsive"
                ? `unresponsive${i.unresponsiveSince ? ` since ${when(i.unresponsiveSince)}` : ""}`
                : i.completed
                  ? `✓ ${run.state}`
                  : `… ${run.state}`;
      const host = params.get(`${i.name}:hostname`);
      const ssh = params.get(`${i.name}:url.ssh`);
      const custom = params.get(`${i.name}:statecustom`);
      const parts = [`    ${i.name.padEnd(12)}`, mark.padEnd(18)];
      if (host) parts.push(`host ${host}`);
      if (ssh) parts.push(`ssh ${ssh}`);
      if (custom) parts.push(`"${custom}"`);
      lines.push(parts.join(" ").trimEnd());
      // an aborted run kept up: show how to log in to the failed machine and debug, as in the seed
      const failed = params.get(`${i.name}:abort`) != null;
      const debug = run.abort !== null && !ended ? debugCommands(ssh, i.workspace, i.login) : null;
      if (debug && (failed || !run.instances.some((x) => params.get(`${x.name}:abort`) != null))) {
        lines.push(`      to debug ${i.name}:  ${debug.join("  →  ")}`);
      }
    }
  }
  return lines;
}

export function registerStatus(program: Command): void {
  program
    .command("status")
    .description("a run's state, abort message, nodes and instances")
    .argument("<run>", RUN_ARG)
    .option("--json", "print the API's JSON")
    .action(async (ref: string, opts: { json?: boolean }, cmd: Command) => {
      const api = await apiFor(cmd);
      const runId = await resolveRun(api, ref);
      const run = await api.call(API.getRun, { params: { id: runId } });
      if (opts.json) return printJson(run);
      const { params } = await api.call(API.runParams, { params: { id: runId } });
      const values = new Map(params.map((p) => [p.key, p.value]));
      println(`Run ${run.id}  ${run.module}`);
      println(`${api.url}/runs/${run.id}`);
      if (run.abort) println(`\n  ABORTED: ${run.abort}\n`);
      const stuck = TERMINAL_STATES.includes(run.state) ? null : await stuckLine(api, run.id);
      if (stuck) println(`\n  ${stuck}\n`);
      const rows: [string, string][] = [
        ["state", run.state + (run.recoveryMode ? "  (recovery mode)" : "")],
        ["keep-running", run.keepRunning],
        ["scalable", run.scalable ? "yes" : "no"],
        ["owner", run.owner],
        ["created", when(run.createdAt)],
        ["updated", when(run.updatedAt)],
      ];
      if (run.tags.length) rows.push(["tags", run.tags.join(",")]);
      if (run.deadline) rows.push(["deadline", when(run.deadline)]);
      if (run.keptUntil)
        rows.push(["kept until", `${when(run.keptUntil)}  (then terminated; slipstream extend ${run.id} --hours N)`]);
      for (const [k, v] of rows) println(`${k.padEnd(13)} ${v}`);
      println("nodes");
      for (const line of instanceLines(run, values)) println(line);
      const receipts = await api.call(API.runAbortReceipts, { params: { id: runId } });
      for (const line of receiptLines(run, receipts)) println(line);
    });
}
