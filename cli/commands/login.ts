import type { Command } from "commander";
import { API } from "../../protocol/catalog/index.js";
import { ApiClient } from "../api-client.js";
import { resolveConnection, writeConfig } from "../config.js";
import { usage } from "../errors.js";
import { println } from "../format.js";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export function registerLogin(program: Command): void {
  program
    .command("login")
    .description("sign in and store a token in $SLIPSTREAM_CONFIG_DIR/config.json (default ~/.config/slipstream)")
    .requiredOption("--username <name>", "user to sign in as")
    .option("--password-stdin", 'read the password from standard input (e.g. echo "$PW" | slipstream login ...)')
    .action(async (opts: { username: string; passwordStdin?: boolean }, cmd: Command) => {
      if (!opts.passwordStdin) {
        throw usage(
          'login: give --password-stdin and pipe the password in: echo "$PASSWORD" | slipstream login --username U --password-stdin',
        );
      }
      if (process.stdin.isTTY) throw usage("--password-stdin: standard input is a terminal; pipe the password in");
      const password = (await readStdin()).replace(/\r?\n$/, "");
      if (!password) throw usage("--password-stdin: no password on standard input");
      const { url } = cmd.optsWithGlobals<{ url?: string }>();
      const conn = await resolveConnection(url, { ...process.env, SLIPSTREAM_TOKEN: "" });
      const api = new ApiClient({ url: conn.url, token: undefined, anonymous: true });
      const res = await api.call(API.login, { body: { username: opts.username, password } });
      const file = await writeConfig({ url: conn.url, token: res.token, username: res.user.username });
      println(`Signed in to ${conn.url} as ${res.user.username} (${res.user.role}); token stored in ${file}`);
    });
}
