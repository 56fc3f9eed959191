import { Argument, type Command } from "commander";
import { completionScript, SHELLS, type Shell } from "../completion.js";

/** `slipstream completion bash|zsh|fish`: the script, generated from this very command tree. */
export function registerCompletion(program: Command): void {
  program
    .command("completion")
    .description("print the shell completion script (bash: `source <(slipstream completion bash)`)")
    .addArgument(new Argument("<shell>", SHELLS.join(", ")).choices(SHELLS))
    .action((shell: Shell) => {
      process.stdout.write(completionScript(program, shell));
    });
}
