import { readdirSync, readFileSync } from "node:fs";
import { chmod, writeFile } from "node:fs/promises";
import path from "node:path";
import type { ScriptStop, StopSignal } from "../protocol/abort-receipt.js";
import { launch } from "./launch.js";
import type { LogSink, LogTargetName } from "./log-sink.js";

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** last non-empty stderr line, for the abort message */
  lastStderr: string;
  /** stopped by us (abort or shutdown), not failed on its own */
  killed: boolean;
  /** could not be started at all */
  spawnError?: string;
}

interface Running {
  target: LogTargetName;
  /** its process group's; undefined while it is being started, and when it could not be */
  pid: number | undefined;
  starting: boolean;
  abortable: boolean;
  killed: boolean;
  /** the signals sent to its group, for abort receipts */
  signals: StopSignal[];
  /** how it ended, once it has */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** settles once the grace after its TERM is over (KILL sent or not needed) */
  graceOver: Promise<void>;
  endGrace: () => void;
}

/** After the main process exits, how long to wait for its pipes (a background child may hold them). */
const PIPE_DRAIN_MS = 100;
const STDERR_TAIL = 8192;

/** Turns a target's text into an executable file that runs with its own shebang. */
function scriptFileText(script: string): string {
  const body = script.replace(/\r\n/g, "\n").replace(/^(?:[ \t]*\n)+/, "");
  return body.startsWith("#!") ? body : `#!/bin/sh\n${body}`;
}

/**
 * Runs recipe scripts and commands, each in its own process group (so abort can signal everything a
 * script started), streaming output to the log.
 */
export class ScriptRunner {
  private readonly running = new Set<Running>();
  /** set when recipes run in a machine of their own (machine.ts): turns an argv into one that runs inside it */
  wrap: ((argv: readonly string[]) => string[]) | null = null;
  /** a path of the workspace as the recipes see it (a host process sees their machine's workspace elsewhere) */
  view: (hostPath: string) => string = (p) => p;

  constructor(
    private readonly targetsDir: string,
    private readonly cwd: string,
    private readonly baseEnv: () => NodeJS.ProcessEnv,
    private readonly log: LogSink,
    private readonly killGraceMs: number,
    /** true while the run's abort flag is raised: an abortable script is then not started at all */
    private readonly aborted: () => boolean = () => false,
  ) {}

  async writeTarget(target: string, script: string): Promise<string> {
    const file = path.join(this.targetsDir, target);
    await writeFile(file, scriptFileText(script), { mode: 0o755 });
    await chmod(file, 0o755);
    return this.view(file);
  }

  /** Runs `argv` (a target file, or a command like apt-get) until it exits. */
  async run(
    target: LogTargetName,
    argv: string[],
    opts: { env?: Record<string, string>; abortable: boolean },
  ): Promise<RunResult> {
    // checked right before the launch: an abort that arrived while the target file was being written would
    // otherwise find nothing to signal and let the script run
    if (opts.abortable && this.aborted()) {
      this.log.agent(`Run aborted: not starting ${target}`);
      return Promise.resolve({ code: null, signal: null, killed: true, lastStderr: "" });
    }
    let exited!: (e: { code: number | null; signal: NodeJS.Signals | null }) => void;
    let endGrace!: () => void;
    const entry: Running = {
      target,
      pid: undefined,
      starting: true,
      abortable: opts.abortable,
      killed: false,
      signals: [],
      exited: new Promise((r) => {
        exited = r;
      }),
      graceOver: new Promise((r) => {
        endGrace = r;
      }),
      endGrace: () => endGrace(),
    };
    // running from now: the launch takes a while (its turn, or the host's spawner), an abort meanwhile is for it too
    this.running.add(entry);
    const full = this.wrap ? this.wrap(argv) : argv;
    const child = await launch(full, {
      cwd: this.cwd,
      env: { ...this.baseEnv(), ...opts.env },
      detached: true,
      pipes: 2,
    });
    entry.pid = child.pid;
    entry.starting = false;
    // stopped while it was being started: the signal it was counted for reaches it now
    if (entry.killed) this.signal(entry);
    return new Promise((resolve) => {
      let tail = "";
      child.stdout?.setEncoding("utf8");
      child.stderr?.setEncoding("utf8");
      // a recipe printing faster than the server stores waits on its pipe, as on a slow terminal
      const backpressure = (pipe: NodeJS.ReadableStream) => {
        if (!this.log.congested || pipe.isPaused()) return;
        pipe.pause();
        this.log.whenDrained(() => pipe.resume());
      };
      child.stdout?.on("data", (data: string) => {
        this.log.write(target, "stdout", data);
        backpressure(child.stdout!);
      });
      child.stderr?.on("data", (data: string) => {
        this.log.write(target, "stderr", data);
        tail = (tail + data).slice(-STDERR_TAIL);
        backpressure(child.stderr!);
      });

      let done = false;
      let exit: { code: number | null; signal: NodeJS.Signals | null } = { code: null, signal: null };
      const finish = (spawnError?: string) => {
        if (done) return;
        done = true;
        this.running.delete(entry);
        exited(exit);
        const lastStderr =
          tail
            .split("\n")
            .map((l) => l.trim())
            .filter(Boolean)
            .pop() ?? "";
        resolve({ ...exit, lastStderr, killed: entry.killed, spawnError });
      };
      child.on("error", (err: Error) => {
        exit = { code: 127, signal: null };
        finish(err.message);
      });
      child.on("exit", (code: number | null, signal: NodeJS.Signals | null) => {
        exit = { code, signal };
        setTimeout(() => finish(), PIPE_DRAIN_MS);
      });
      child.on("close", () => finish());
    });
  }

  /** SIGTERM to every running abortable group, SIGKILL after the grace if a group is still there. */
  killAbortable(): number {
    return this.kill((r) => r.abortable);
  }

  killAll(): number {
    return this.kill(() => true);
  }

  /**
   * The abortable scripts running now, each with how it stopped (for the abort's receipt): `exited` once it exited,
   * with the signals sent so far and its exit code or signal; `graceOver` once the grace after its TERM is over,
   * with every signal sent (a child left in its group may have needed the KILL after the script itself exited).
   */
  watchAbortable(): ScriptWatch[] {
    return [...this.running]
      .filter((r) => r.abortable && (r.starting || r.pid !== undefined))
      .map((r) => ({
        exited: stopOf(r),
        graceOver: r.exited.then(() => (r.killed ? r.graceOver : undefined)).then(() => [...r.signals]),
      }));
  }

  get hasAbortable(): boolean {
    return [...this.running].some((r) => r.abortable);
  }

  private kill(which: (r: Running) => boolean): number {
    let count = 0;
    for (const r of this.running) {
      if (!which(r) || r.killed || (!r.starting && r.pid === undefined)) continue;
      r.killed = true;
      count++;
      r.signals.push("TERM");
      // one being started gets it once it is (run)
      if (!r.starting) this.signal(r);
    }
    return count;
  }

  /** The TERM a stop counted for `r`, then the KILL after the grace if its group is still there. */
  private signal(r: Running): void {
    const pid = r.pid;
    if (pid === undefined) {
      r.endGrace();
      return;
    }
    // in a machine the group's leader is nsenter, which would die of the TERM and hide how the script ended:
    // the script and its children get it, nsenter waits for the script and exits as it did
    if (this.wrap) signalGroupBut(pid, "SIGTERM");
    else signalGroup(pid, "SIGTERM");
    setTimeout(() => {
      if (groupAlive(pid)) {
        this.log.agent(`process group ${pid} still alive after ${this.killGraceMs / 1000} s: SIGKILL`);
        r.signals.push("KILL");
        signalGroup(pid, "SIGKILL");
      }
      r.endGrace();
    }, this.killGraceMs);
  }
}

export interface ScriptWatch {
  /** null: it was being started when the abort came, and could not be */
  exited: Promise<ScriptStop | null>;
  graceOver: Promise<StopSignal[]>;
}

async function stopOf(r: Running): Promise<ScriptStop | null> {
  const exit = await r.exited;
  const pid = r.pid;
  if (pid === undefined) return null;
  return {
    target: r.target,
    pid,
    signals: [...r.signals],
    exitCode: exit.signal ? null : (exit.code ?? null),
    exitSignal: exit.signal,
  };
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/**
 * Signals every process of the group but its leader (read from /proc: their process group is field 5 of stat); the
 * whole group when /proc shows none of them (another pid namespace's /proc).
 */
function signalGroupBut(pgid: number, signal: NodeJS.Signals): void {
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    signalGroup(pgid, signal);
    return;
  }
  let signalled = 0;
  for (const name of pids) {
    const pid = Number(name);
    if (pid === pgid) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // `pid (comm) state ppid pgrp …`: comm may hold spaces and parentheses, so read after the last one
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) !== pgid) continue;
    try {
      process.kill(pid, signal);
      signalled++;
    } catch {
      // already gone
    }
  }
  if (signalled === 0) signalGroup(pgid, signal);
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
