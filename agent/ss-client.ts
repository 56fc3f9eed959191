/**
 * The ss-* commands (`ss-get`, `ss-set`, …): the Node client (ss-main.ts, bundled as `ss.mjs`) sends each
 * call's one request to its agent's unix socket; the agent runs the same code for the bash wrappers'
 * fast path. Only the agent holds a server connection.
 */
import net from "node:net";
import { type ErrorCode, SS_EXIT } from "../protocol/errors.js";
import { IPC_ENV } from "./ipc-address.js";
import type { IpcResponse } from "./ipc-protocol.js";
import { UsageError } from "./ss-args.js";
import { COMMANDS, type Plan, planCommand } from "./ss-commands.js";

interface Output {
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

/** Sends one command's request to its agent and resolves with the agent's answer. */
type SsTransport = (request: NonNullable<Plan["request"]>) => Promise<IpcResponse>;

/** Runs one ss-* command from the environment of a script or of `source slipstream.setenv`. */
export function runSsCommand(
  command: string,
  argv: readonly string[],
  env: Record<string, string | undefined>,
  output: Output,
): Promise<number> {
  const socketPath = env[IPC_ENV];
  const self = env.SLIPSTREAM_NODE_INSTANCE_NAME;
  const transport =
    self && socketPath ? (request: NonNullable<Plan["request"]>) => callAgent(socketPath, request) : null;
  return executeSsCommand(command, argv, self, transport, output);
}

/**
 * Runs one ss-* command of instance `self` over `transport` (null: not in a SlipStream environment);
 * returns its exit code. The Node client and the agent's fast path (bash wrappers) both come here.
 */
export async function executeSsCommand(
  command: string,
  argv: readonly string[],
  self: string | undefined,
  transport: SsTransport | null,
  output: Output,
): Promise<number> {
  const name = command || "ss";
  const fail = (code: number, message: string) => {
    output.err(`${name}: ${message}\n`);
    return code;
  };

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
  if (!transport) {
    return fail(
      SS_EXIT.UNREACHABLE,
      `not in a SlipStream environment (${IPC_ENV} is not set): source slipstream.setenv`,
    );
  }

  let response: IpcResponse;
  try {
    response = await transport(plan.request);
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
