import { type ChildProcess, spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";

/**
 * Runs short commands (`ip …` of the instances' networks) from a small helper process instead of the server: Node
 * forks the whole calling process for each child and its event loop waits meanwhile, ~25 ms per command once the
 * server holds a large run (a CPU profile of a 500-instance launch: 12.8 s of the server's loop in `spawn`). The
 * helper is a bare Node of a few MB of heap, so its forks are cheap and the server's loop only sends a line.
 */
const HELPER = String.raw`
const { execFile } = require("node:child_process");
const rl = require("node:readline").createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const { id, argv, input, timeoutMs } = JSON.parse(line);
  const child = execFile(argv[0], argv.slice(1), { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
    process.stdout.write(JSON.stringify({ id, ok: !err, stdout, stderr, message: err ? err.message : null }) + "\n");
  });
  child.on("error", () => undefined);
  if (typeof input === "string") child.stdin.end(input);
});
rl.on("close", () => process.exit(0));
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => undefined);
`;

interface Answer {
  id: number;
  ok: boolean;
  stdout: string;
  stderr: string;
  message: string | null;
}

let helper: ChildProcess | null = null;
let nextId = 1;
const pending = new Map<number, { argv: string[]; resolve: (out: string) => void; reject: (err: Error) => void }>();

function failAll(why: string): void {
  for (const [id, p] of pending) {
    pending.delete(id);
    p.reject(new Error(`${p.argv.join(" ")}: ${why}`));
  }
}

function started(): ChildProcess {
  if (helper && helper.exitCode === null && helper.signalCode === null) return helper;
  // a signal for the server's whole process group (a terminal's Ctrl-C, `timeout`, a service manager's stop) is the
  // server's to act on: its drain still runs commands here (giving the instances' bridge back). In a group of its own
  // the helper and its commands do not get it; a signal sent to it anyway is ignored, and it ends with the server,
  // when its stdin closes. Ctrl-C used to end it under the drain, which then left the bridge and its claim behind.
  const child = spawn(process.execPath, ["-e", HELPER], { stdio: ["pipe", "pipe", "inherit"], detached: true });
  helper = child;
  let buffer = "";
  const stdout = child.stdout as Readable;
  stdout.setEncoding("utf8");
  stdout.on("data", (chunk: string) => {
    buffer += chunk;
    for (let nl = buffer.indexOf("\n"); nl !== -1; nl = buffer.indexOf("\n")) {
      const a = JSON.parse(buffer.slice(0, nl)) as Answer;
      buffer = buffer.slice(nl + 1);
      const p = pending.get(a.id);
      if (!p) continue;
      pending.delete(a.id);
      if (a.ok) p.resolve(a.stdout);
      else p.reject(new Error(`${p.argv.join(" ")}: ${(a.stderr || a.message || "failed").trim()}`));
    }
  });
  child.once("exit", (code, signal) => {
    if (helper === child) helper = null;
    failAll(`the command helper ended (${signal ?? `exit ${code}`})`);
  });
  child.once("error", (err) => failAll(`the command helper failed: ${err.message}`));
  (child.stdin as Writable).on("error", () => undefined);
  // it must not keep a finished server alive: with the server gone its stdin closes and it ends
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  (stdout as unknown as { unref?: () => void }).unref?.();
  return child;
}

/** Runs `argv` (no shell) and resolves with its stdout; rejects naming the command and its stderr. */
export function runCommand(argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = started();
    const id = nextId++;
    pending.set(id, { argv, resolve, reject });
    (child.stdin as Writable).write(
      `${JSON.stringify({ id, argv, input: opts.input, timeoutMs: opts.timeoutMs ?? 10_000 })}\n`,
    );
  });
}
