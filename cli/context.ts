import type { Command } from "commander";
import { ApiClient } from "./api-client.js";
import { resolveConnection } from "./config.js";
import { terminalSafe } from "./terminal.js";

/** The API client for a command, from the global `--url`, the environment and the stored login. */
export async function apiFor(cmd: Command): Promise<ApiClient> {
  const { url } = cmd.optsWithGlobals<{ url?: string }>();
  return new ApiClient(await resolveConnection(url));
}

/** Writes a progress line (abort messages, ss-display values…: made terminal-safe): to stderr when stdout is JSON. */
export const progressWriter = (json: boolean | undefined) => (line: string) => {
  (json ? process.stderr : process.stdout).write(`${terminalSafe(line)}\n`);
};
