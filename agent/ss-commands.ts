import { randomInt } from "node:crypto";
import { z } from "zod";
import type { ErrorCode } from "../protocol/errors.js";
import { qualifyKey } from "../protocol/keys.js";
import { fitMessage } from "../protocol/messages.js";
import { MAX_PARAM_VALUE, NODE_NAME_RE, PARAM_NAME_RE } from "../protocol/run.js";
import type { IpcRequestInput } from "./ipc-protocol.js";
import { type OptionSpec, parseArgs, UsageError } from "./ss-args.js";

/** What one ss-* invocation does: at most one request to the agent, then print. */
export interface Plan {
  request: Omit<IpcRequestInput, "id"> | null;
  /** text printed on success (a trailing newline is added), null for nothing */
  render(data: unknown): string | null;
  /** `ss-get --default V`: print V instead of failing with these codes */
  fallback?: { codes: ErrorCode[]; value: string };
  /** printed without contacting the agent (--help) */
  help?: boolean;
}

interface Command {
  usage: string;
  options: OptionSpec;
  freeAfter?: number;
  plan(args: { options: Record<string, string | boolean>; positionals: string[] }, self: string): Plan;
}

const Seconds = z
  .string()
  .regex(/^\d+(\.\d+)?$/, "must be a number of seconds (0 = forever)")
  .transform(Number)
  .pipe(z.number().max(7 * 24 * 3600, "must be at most a week"));
const Value = z.string().max(MAX_PARAM_VALUE, `must be at most ${MAX_PARAM_VALUE} characters`);
const Node = z.string().regex(NODE_NAME_RE, "must be a node name (letters, digits, _ and -)");
const Count = (what: string, max: number) =>
  z
    .string()
    .regex(/^[1-9]\d*$/, `must be ${what}`)
    .transform(Number)
    .pipe(z.number().max(max, `must be at most ${max}`));

function keyOf(raw: string | undefined, self: string, label = "KEY"): string {
  if (raw === undefined) throw new UsageError(`missing ${label}`);
  const key = qualifyKey(raw, self);
  if (!key) throw new UsageError(`${label}: '${raw}' is not a parameter key (name, node:name, node.i:name or ss:name)`);
  return key;
}

/** Validates one argument, turning zod's complaint into a usage error that names the argument. */
function arg<T extends z.ZodType>(schema: T, value: unknown, label: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new UsageError(`${label}: ${result.error.issues[0]?.message ?? "invalid"}`);
  return result.data;
}

function noMore(positionals: string[], from: number): void {
  if (positionals.length > from) throw new UsageError(`unexpected argument '${positionals[from]}'`);
}

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
function randomString(length: number): string {
  let s = "";
  for (let i = 0; i < length; i++) s += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return s;
}

const nothing = () => null;

export const COMMANDS: Record<string, Command> = {
  "ss-get": {
    usage: "ss-get [--timeout S] [--noblock] [--ignore-abort] [--default V] KEY",
    options: {
      timeout: { type: "string" },
      noblock: { type: "boolean" },
      "ignore-abort": { type: "boolean" },
      default: { type: "string" },
    },
    plan({ options, positionals }, self) {
      const key = keyOf(positionals[0], self);
      noMore(positionals, 1);
      const timeout = options.timeout === undefined ? 60 : arg(Seconds, options.timeout, "--timeout");
      const fallback =
        typeof options.default === "string"
          ? { codes: ["NOT_SET", "TIMEOUT"] as ErrorCode[], value: arg(Value, options.default, "--default") }
          : undefined;
      return {
        request: {
          op: "param:get",
          req: { key, timeout, noblock: options.noblock === true, ignoreAbort: options["ignore-abort"] === true },
        },
        render: (data) => (data as { value: string }).value,
        fallback,
      };
    },
  },
  "ss-set": {
    usage: "ss-set [--ignore-abort] KEY VALUE",
    options: { "ignore-abort": { type: "boolean" } },
    freeAfter: 1,
    plan({ options, positionals }, self) {
      const key = keyOf(positionals[0], self);
      if (positionals.length < 2) throw new UsageError("missing VALUE");
      noMore(positionals, 2);
      const value = arg(Value, positionals[1], "VALUE");
      return {
        request: { op: "param:set", req: { key, value, ignoreAbort: options["ignore-abort"] === true } },
        render: nothing,
      };
    },
  },
  "ss-display": {
    usage: "ss-display MSG",
    options: {},
    freeAfter: 1,
    plan({ positionals }, self) {
      if (positionals.length === 0) throw new UsageError("missing MSG");
      const value = arg(Value, positionals.join(" "), "MSG");
      return { request: { op: "param:set", req: { key: `${self}:statecustom`, value } }, render: nothing };
    },
  },
  "ss-abort": {
    usage: "ss-abort [--cancel] [MSG]",
    options: { cancel: { type: "boolean" } },
    freeAfter: 1,
    plan({ options, positionals }) {
      // a long message is cut to fit (keeping its end), never refused: the abort must happen
      const message = fitMessage(positionals.join(" "));
      return { request: { op: "run:abort", req: { message, cancel: options.cancel === true } }, render: nothing };
    },
  },
  "ss-random": {
    usage: "ss-random [-s N] [KEY]",
    options: { size: { type: "string", short: "s" } },
    plan({ options, positionals }, self) {
      const size = options.size === undefined ? 12 : arg(Count("a length of 1 or more", 4096), options.size, "-s");
      noMore(positionals, 1);
      const value = randomString(size);
      const key = positionals[0] === undefined ? null : keyOf(positionals[0], self);
      return {
        request: key ? { op: "param:set", req: { key, value } } : null,
        render: () => value,
      };
    },
  },
  "ss-get-all": {
    usage: "ss-get-all [--timeout S] NODE NAME",
    options: { timeout: { type: "string" } },
    plan({ options, positionals }) {
      if (positionals.length < 1) throw new UsageError("missing NODE");
      if (positionals.length < 2) throw new UsageError("missing NAME");
      noMore(positionals, 2);
      const node = arg(Node, positionals[0], "NODE");
      const name = arg(z.string().regex(PARAM_NAME_RE, "must be a parameter name"), positionals[1], "NAME");
      const timeout = options.timeout === undefined ? 60 : arg(Seconds, options.timeout, "--timeout");
      return {
        request: { op: "param:get-all", req: { node, name, timeout } },
        render: (data) =>
          (data as { values: { instance: string; value: string }[] }).values
            .map((v) => `${v.instance} ${v.value}`)
            .join("\n") || null,
      };
    },
  },
  "ss-node-add": {
    usage: "ss-node-add NODE [N]",
    options: {},
    plan({ positionals }) {
      if (positionals.length < 1) throw new UsageError("missing NODE");
      noMore(positionals, 2);
      const node = arg(Node, positionals[0], "NODE");
      const count = positionals[1] === undefined ? 1 : arg(Count("a count of 1 or more", 1000), positionals[1], "N");
      return {
        request: { op: "node:add", req: { node, count } },
        render: (data) => (data as { added: string[] }).added.join("\n") || null,
      };
    },
  },
  "ss-node-remove": {
    usage: "ss-node-remove NODE ID...",
    options: {},
    plan({ positionals }) {
      if (positionals.length < 1) throw new UsageError("missing NODE");
      if (positionals.length < 2) throw new UsageError("missing ID");
      const node = arg(Node, positionals[0], "NODE");
      const ids = positionals.slice(1).map((id) => arg(Count("an instance index (1 or more)", 1e9), id, "ID"));
      return {
        request: { op: "node:remove", req: { node, ids } },
        render: (data) => (data as { removed: string[] }).removed.join("\n") || null,
      };
    },
  },
};

/** Turns a command line into a plan, or throws UsageError. `self` is the calling instance (`node.i`). */
export function planCommand(command: string, argv: readonly string[], self: string): Plan {
  const spec = COMMANDS[command];
  if (!spec) throw new UsageError(`unknown command; use one of ${Object.keys(COMMANDS).join(", ")}`);
  const parsed = parseArgs(argv, spec.options, spec.freeAfter);
  if (parsed.help) return { request: null, render: () => `usage: ${spec.usage}`, help: true };
  return spec.plan(parsed, self);
}
