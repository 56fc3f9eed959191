import { API } from "../protocol/catalog/index.js";
import type { CreateRunBody } from "../protocol/index.js";
import type { RunCheckFinding } from "../protocol/run-check.js";
import type { ApiClient } from "./api-client.js";
import { CliError, EXIT } from "./errors.js";
import { printJson, println } from "./format.js";

/** `error client execute:12 apache:raedy: …`, as a compiler prints what it found. */
export function formatFinding(f: RunCheckFinding): string {
  const where = [f.node, f.target && f.line !== null ? `${f.target}:${f.line}` : f.target].filter(Boolean).join(" ");
  return `${[f.severity, where, f.key].filter(Boolean).join(" ")}: ${f.message}`;
}

/** `run --dry-run`: the server checks the run's body and recipes, starting nothing; exit 2 when any finding is an error. */
export async function dryRun(api: ApiClient, body: CreateRunBody, json: boolean | undefined): Promise<void> {
  const result = await api.call(API.checkRun, { body });
  if (json) printJson(result);
  else {
    for (const f of result.findings) println(formatFinding(f));
    const errors = result.findings.filter((f) => f.severity === "error").length;
    println(
      `${body.module}: ${errors} error(s), ${result.findings.length - errors} other finding(s)${result.ok ? "; the run can start" : ""}`,
    );
  }
  if (!result.ok)
    throw new CliError(
      EXIT.USAGE,
      `dry run of ${body.module}: ${result.findings.filter((f) => f.severity === "error").length} error(s); nothing was started`,
    );
}
