import type { Command } from "commander";
import { API } from "../../protocol/catalog/index.js";
import type { InstanceOutcome, RunDiff } from "../../protocol/run-replay.js";
import { apiFor } from "../context.js";
import { elapsed, printJson, println, size, table } from "../format.js";
import { RUN_ARG, resolveRun } from "../run-ref.js";

/** A duration as the diff shows it: tenths of a second under a minute (most states of a test run take seconds). */
export function took(ms: number | null): string {
  if (ms === null) return "-";
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : elapsed(ms);
}

function outcomeText(o: InstanceOutcome | null): string {
  if (!o) return "(not in this run)";
  const last = o.lastCompleted ? (o.outcome === "completed" ? ` ${o.lastCompleted}` : ` after ${o.lastCompleted}`) : "";
  const time = o.totalMs === null ? "" : ` in ${took(o.totalMs)}`;
  return `${o.outcome}${last}${time}${o.detail ? `: ${o.detail}` : ""}`;
}

const value = (v: string | null, declared: boolean) => (!declared ? "(not declared)" : v === null ? "(unset)" : v);

/** The diff as text: the runs, time per state, each instance's outcome, differing parameters, reports. */
export function diffText(d: RunDiff, all: boolean): string {
  const out: string[] = [];
  out.push(`Compare ${d.module}`);
  out.push(
    table(
      ["", "A", "B"],
      [
        ["run", d.a.id, d.b.id],
        ["state", d.a.state, d.b.state],
        ["abort", d.a.abort ?? "-", d.b.abort ?? "-"],
        ["duration", took(d.a.durationMs), took(d.b.durationMs)],
        ["owner", d.a.owner, d.b.owner],
      ],
    ),
  );
  out.push("", "time per state");
  out.push(
    table(
      ["state", "A", "B"],
      d.states.map((s) => [s.state, took(s.aMs), took(s.bMs)]),
    ),
  );
  out.push("", "instances");
  out.push(
    table(
      ["instance", "A", "B", ""],
      d.instances.map((i) => [i.name, outcomeText(i.a), outcomeText(i.b), i.same ? "" : "≠"]),
    ),
  );
  const shown = all ? d.params : d.params.filter((p) => !p.same);
  const same = d.params.length - d.params.filter((p) => !p.same).length;
  out.push("", `parameters: ${d.params.length - same} differ, ${same} the same${all ? "" : " (--all shows them)"}`);
  if (shown.length > 0) {
    out.push(
      table(
        ["key", "A", "B", ""],
        shown.map((p) => [p.key, value(p.a, p.inA), value(p.b, p.inB), p.same ? "" : "≠"]),
      ),
    );
  }
  out.push("", "reports");
  out.push(
    d.reports.length === 0
      ? "  (none)"
      : table(
          ["report", "A", "B"],
          d.reports.map((r) => [
            r.key,
            r.a ? `${r.a.name} (${size(r.a.size)})` : "-",
            r.b ? `${r.b.name} (${size(r.b.size)})` : "-",
          ]),
        ),
  );
  return out.join("\n");
}

export function registerDiff(program: Command): void {
  program
    .command("diff")
    .description("two runs of the same module side by side: parameters, instance outcomes, times, reports")
    .argument("<a>", RUN_ARG)
    .argument("<b>", `${RUN_ARG}, of the same module`)
    .option("--all", "every parameter, not only those that differ")
    .option("--json", "print the API's JSON")
    .action(async (refA: string, refB: string, opts: { all?: boolean; json?: boolean }, cmd: Command) => {
      const api = await apiFor(cmd);
      const [a, b] = [await resolveRun(api, refA), await resolveRun(api, refB)];
      const diff = await api.call(API.diffRuns, { params: { id: a, other: b } });
      if (opts.json) return printJson(diff);
      for (const line of diffText(diff, !!opts.all).split("\n")) println(line);
    });
}
