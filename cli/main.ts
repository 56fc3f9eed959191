import { CommanderError } from "commander";
import { CliError, EXIT } from "./errors.js";
import { buildProgram } from "./program.js";
import { terminalSafe } from "./terminal.js";

/** Exit once stdout and stderr are flushed (a pipe may still hold output). */
function exit(code: number): void {
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
}

async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are not errors; commander already printed its message
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return EXIT.OK;
      return EXIT.USAGE;
    }
    if (err instanceof CliError) {
      // messages may quote the server, and so a recipe (`run … ended Aborted: <abort message>`)
      process.stderr.write(`slipstream: ${terminalSafe(err.message)}\n`);
      return err.exitCode;
    }
    const e = err as Error;
    process.stderr.write(`slipstream: unexpected error: ${terminalSafe(e?.message ?? String(err))}\n`);
    if (process.env.SLIPSTREAM_DEBUG) process.stderr.write(`${e?.stack ?? ""}\n`);
    return EXIT.UNREACHABLE;
  }
}

exit(await main(process.argv));
