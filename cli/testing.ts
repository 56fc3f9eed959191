import { type ChildProcess, spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { testTempDir } from "../server/testing/temp-dirs.js";

/** The real executable, as a user runs it. */
const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../bin/slipstream");

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliEnv {
  url: string;
  configDir: string;
  token?: string;
  /** more variables for the CLI's process (NODE_EXTRA_CA_CERTS) */
  extra?: Record<string, string>;
}

export const tempDir = (name: string) => testTempDir(`ss-cli-${name}-`);

function childEnv(env: CliEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env, SLIPSTREAM_URL: env.url, SLIPSTREAM_CONFIG_DIR: env.configDir };
  delete out.SLIPSTREAM_TOKEN;
  if (env.token) out.SLIPSTREAM_TOKEN = env.token;
  return { ...out, ...env.extra };
}

/** A CLI process that is still running: its output so far, and its end. */
interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** resolves once stdout (or stderr) holds a match */
  waitFor(re: RegExp, stream?: "stdout" | "stderr"): Promise<RegExpMatchArray>;
  done: Promise<CliResult>;
}

export function startCli(args: string[], env: CliEnv, opts: { input?: string; cwd?: string } = {}): CliProcess {
  const child = spawn(BIN, args, { env: childEnv(env), cwd: opts.cwd ?? os.tmpdir(), stdio: "pipe" });
  const out = { stdout: "", stderr: "" };
  const waiters: (() => void)[] = [];
  const grow = (stream: "stdout" | "stderr") => (chunk: Buffer) => {
    out[stream] += chunk.toString("utf8");
    for (const w of waiters.splice(0)) w();
  };
  child.stdout.on("data", grow("stdout"));
  child.stderr.on("data", grow("stderr"));
  child.stdin.end(opts.input ?? "");
  const done = new Promise<CliResult>((resolve) => child.on("close", (code) => resolve({ code, ...out })));
  return {
    child,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    waitFor: (re, stream = "stdout") =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = out[stream].match(re);
          if (m) return resolve(m);
          if (child.exitCode !== null) {
            return reject(new Error(`CLI exited ${child.exitCode} before ${re}: ${out.stdout}\n${out.stderr}`));
          }
          waiters.push(check);
        };
        child.on("close", () => {
          if (!out[stream].match(re)) reject(new Error(`CLI exited before ${re}:\n${out.stdout}\n${out.stderr}`));
        });
        check();
      }),
    done,
  };
}

/** Runs the CLI to its end. */
export function cli(args: string[], env: CliEnv, opts: { input?: string; cwd?: string } = {}): Promise<CliResult> {
  return startCli(args, env, opts).done;
}
