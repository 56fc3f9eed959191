import { spawn } from "node:child_process";
import type { EventEmitter } from "node:events";
import type { Readable } from "node:stream";
import { spawnTurn } from "./spawn-turn.js";

/** How a machine or a recipe is started: stdin is /dev/null, the other fds asked for are pipes read by the agent. */
export interface LaunchOptions {
  cwd?: string;
  env: Record<string, string | undefined>;
  /** in a process group (and session) of its own */
  detached: boolean;
  /** 2: stdout and stderr; 3: fd 3 too */
  pipes: 2 | 3;
}

/**
 * A started process as a ChildProcess shows it, as far as machines and recipes use it: 'exit' (code, signal) when it
 * ended, 'close' once its pipes have ended too, 'error' when it could not be started (pid undefined).
 */
export interface Launched extends EventEmitter {
  readonly pid: number | undefined;
  /** [null (stdin), stdout, stderr, fd 3 when asked for] */
  readonly stdio: readonly (Readable | null | undefined)[];
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  /** signals the process itself (not its group), unless it has ended */
  kill(signal?: NodeJS.Signals): boolean;
}

export type Launcher = (argv: readonly string[], opts: LaunchOptions) => Promise<Launched>;

/** In this process: its thread forks (see spawn-turn.ts for what that costs a loaded host). */
export const launchHere: Launcher = async (argv, opts) => {
  await spawnTurn();
  const child = spawn(argv[0], argv.slice(1), {
    cwd: opts.cwd,
    env: opts.env as NodeJS.ProcessEnv,
    detached: opts.detached,
    stdio: ["ignore", ...Array.from({ length: opts.pipes }, () => "pipe" as const)],
  });
  return child as unknown as Launched;
};

let current: Launcher = launchHere;

/** Starts `argv` with the process's launcher: here, unless a run's agent host gave it its spawner (spawner.ts). */
export function launch(argv: readonly string[], opts: LaunchOptions): Promise<Launched> {
  return current(argv, opts);
}

export function setLauncher(launcher: Launcher): void {
  current = launcher;
}
