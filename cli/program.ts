import { Command } from "commander";
import { registerCompletion } from "./commands/completion.js";
import { registerDiff } from "./commands/diff.js";
import { registerExtend } from "./commands/extend.js";
import { registerLogin } from "./commands/login.js";
import { registerModules } from "./commands/modules.js";
import { registerParams } from "./commands/params.js";
import { registerReports } from "./commands/reports.js";
import { registerResults, registerSnapshot } from "./commands/results.js";
import { registerRun } from "./commands/run.js";
import { registerRuns } from "./commands/runs.js";
import { registerStatus } from "./commands/status.js";
import { registerSteering } from "./commands/steer.js";
import { registerWaits } from "./commands/waits.js";

/** The `slipstream` command tree. Errors are thrown (exitOverride), and main.ts turns them into exit codes. */
export function buildProgram(): Command {
  const program = new Command("slipstream")
    .description("SlipStream: deploy and test multi-machine systems")
    .option("--url <url>", "server URL (default: $SLIPSTREAM_URL, else the stored login's, else http://localhost:8080)")
    .showHelpAfterError("(add --help for usage)")
    .exitOverride()
    .configureOutput({
      // commander's own errors read `error: ...`: print them as ours
      outputError: (str, write) => write(`slipstream: ${str.replace(/^error: /, "")}`),
    });
  registerLogin(program);
  registerModules(program);
  registerRun(program);
  registerRuns(program);
  registerStatus(program);
  registerWaits(program);
  registerDiff(program);
  registerParams(program);
  registerSteering(program);
  registerExtend(program);
  registerReports(program);
  registerResults(program);
  registerSnapshot(program);
  registerCompletion(program);
  return program;
}
