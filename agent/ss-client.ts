/**
 * The ss-* commands (`ss-get`, `ss-set`, …), one bundled file run as `node ss.mjs <command> ARGS…`
 * by the wrappers in `<workspace>/bin`. Each call sends one request to its agent's unix socket;
 * only the agent holds a server connection.
 */
import { realpathSync } from "node:fs";
import net from "node:net";
import { pathToFileURL } from "node:url";
import { type ErrorCode, SS_EXIT } from "../protocol/errors.js";
import { IPC_ENV } from "./ipc-address.js";
import type { IpcResponse } from "./ipc-protocol.js";
import { UsageError } from "./ss-args.js";
import { COMMANDS, type Plan, planCommand } from "./ss-commands.js";

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

class Unreachable extends Error {}

/** Sends one request line and resolves with the one response line. */
function callAgent(socketPath: string, request: NonNullable<Plan["request"]>): Promise<IpcResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    let buffer = "";
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      fn();
    };
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(`${JSON.stringify({ id: 1, ...request })}\n`));
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      const nl = buffer.indexOf("\n");
      if (nl === -1) return;
      try {
        const response = JSON.parse(buffer.slice(0, nl)) as IpcResponse;
        settle(() => resolve(response));
      } catch {
        settle(() => reject(new Error("agent sent a malformed response")));
      }
    });
    socket.on("error", (err: NodeJS.ErrnoException) =>
      settle(() => reject(new Unreachable(`agent unreachable at ${socketPath}: ${err.code ?? err.message}`))),
    );
    socket.on("close", () => settle(() => reject(new Unreachable("agent closed the connection"))));
  });
}

/** Runs one ss-* command; returns its exit code. */
export async function runSsCommand(
  command: string,
  argv: readonly string[],
  env: Record<string, string | undefined>,
  output: Output,
): Promise<number> {
  const name = command || "ss";
  const fail = (code: number, message: string) => {
    output.err(`${name}: ${message}\n`);
    return code;
  };
  const self = env.SLIPSTREAM_NODE_INSTANCE_NAME;
  const socketPath = env[IPC_ENV];

  let plan: Plan;
  try {
    plan = planCommand(command, argv, self ?? "self.1");
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const usage = COMMANDS[command]?.usage;
    return fail(SS_EXIT.USAGE, usage ? `${err.message}\nusage: ${usage}` : err.message);
  }
  if (plan.help) {
    output.out(`${plan.render(null)}\n`);
    return SS_EXIT.OK;
  }
  const print = (data: unknown) => {
    const text = plan.render(data);
    if (text !== null) output.out(`${text}\n`);
    return SS_EXIT.OK;
  };
  if (!plan.request) return print(null);
  if (!self || !socketPath) {
    return fail(
      SS_EXIT.UNREACHABLE,
      `not in a SlipStream environment (${IPC_ENV} is not set): source slipstream.setenv`,
    );
  }

  let response: IpcResponse;
  try {
    response = await callAgent(socketPath, plan.request);
  } catch (err) {
    return fail(err instanceof Unreachable ? SS_EXIT.UNREACHABLE : SS_EXIT.INTERNAL, (err as Error).message);
  }
  if (response.ok) return print(response.data);
  const code: ErrorCode = response.error.code;
  if (plan.fallback?.codes.includes(code)) {
    output.out(`${plan.fallback.value}\n`);
    return SS_EXIT.OK;
  }
  // `--noblock` on an unset key is an answer, not an error: exit 1 quietly
  if (code === "NOT_SET") return SS_EXIT.NOT_SET;
  return fail(SS_EXIT[code] ?? SS_EXIT.INTERNAL, response.error.message);
}

function isEntry(): boolean {
  if (!process.argv[1]) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

if (isEntry()) {
  const [command = "", ...argv] = process.argv.slice(2);
  runSsCommand(command, argv, process.env, {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`${command}: ${(err as Error).message}\n`);
      process.exitCode = SS_EXIT.INTERNAL;
    },
  );
}
