import type { Command } from "commander";
import { ApiClient } from "./api-client.js";
import { resolveConnection } from "./config.js";

/** The API client for a command, from the global `--url`, the environment and the stored login. */
export async function apiFor(cmd: Command): Promise<ApiClient> {
  const { url } = cmd.optsWithGlobals<{ url?: string }>();
  return new ApiClient(await resolveConnection(url));
}

/** Writes a progress line: to stderr when stdout is reserved for JSON. */
export const progressWriter = (json: boolean | undefined) => (line: string) => {
  (json ? process.stderr : process.stdout).write(`${line}\n`);
};
