import { type ChildProcess, spawn } from "node:child_process";
import { renameSync, writeFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { TERMINAL_LIMITS } from "../protocol/limits.js";
import type { ServerLink } from "./server-link.js";

/** output gathered this long before it is sent: a burst becomes a few messages, a keystroke's echo stays quick */
const FLUSH_MS = 15;
/** output messages not yet acknowledged before the shell's output is paused (it waits, as on a slow terminal) */
const MAX_INFLIGHT = 16;
/** a shell told to close gets this long after SIGHUP before SIGKILL */
const KILL_GRACE_MS = 2000;

interface Shell {
  child: ChildProcess;
  chunk: number;
  pending: string;
  flushTimer: ReturnType<typeof setTimeout> | undefined;
  inflight: number;
  ttyFile: string;
  closing: boolean;
  /** false until the shell printed: its pty's name is known only from then on */
  started: boolean;
  /** called when the shell first printed */
  ready?: () => void;
  /** keys and resizes in the order they came: keys typed after a resize reach a pty of the new size */
  queue: Promise<void>;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The scripts' environment without what slipstream.setenv sets: the shell gets the instance's variables and the ss-*
 * commands by sourcing it, as a person who logs in does, so a broken setenv shows in the terminal. The SSH cloud's
 * process tag stays (stopping the instance finds the shell by it).
 */
function loginEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith("SLIPSTREAM_") && k !== "SLIPSTREAM_SSH_INSTANCE") continue;
    if (k === "TMPDIR") continue;
    out[k] = v;
  }
  out.PATH = process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin";
  return out as NodeJS.ProcessEnv;
}

export interface TerminalHost {
  /** the workspace: the shell starts there; its rc file and tty names are kept under lib/ */
  root: string;
  setenv: string;
  env: () => NodeJS.ProcessEnv;
  /** argv that runs a command inside the instance's machine (null: no machine, the agent's own system) */
  wrap: () => ((argv: readonly string[]) => string[]) | null;
  log: (line: string) => void;
  /** a path of the workspace as the shell sees it (its machine may show the workspace elsewhere than the agent) */
  view?: (hostPath: string) => string;
  /** where a shell notes its pty's name (default: lib/ of the workspace) */
  ttyDir?: string;
}

/**
 * The instance's shared terminals: a pty allocated by util-linux `script` (no native module to build), running an
 * interactive shell inside the instance's machine with slipstream.setenv sourced, so a person has what the recipes
 * had. The size is set with stty before the shell starts and, on a resize, on the pty by its name.
 */
export class AgentTerminals {
  private readonly shells = new Map<string, Shell>();

  constructor(
    private readonly link: ServerLink,
    private readonly host: TerminalHost,
  ) {
    link.onPush("term:open", (m) => this.open(m.session, m.rows, m.cols));
    link.onPush("term:input", (m) => this.enqueue(m.session, (shell) => void shell.child.stdin?.write(m.data)));
    link.onPush("term:resize", (m) =>
      this.enqueue(m.session, (shell) => this.resize(m.session, shell, m.rows, m.cols)),
    );
    link.onPush("term:close", (m) => this.close(m.session));
  }

  private inShell(hostPath: string): string {
    return this.host.view ? this.host.view(hostPath) : hostPath;
  }

  private get rcFile(): string {
    return path.join(this.host.root, "lib", "terminal.rc");
  }

  private open(session: string, rows: number, cols: number): void {
    if (this.shells.has(session)) return; // the same open pushed again after a reconnect
    const ttyFile = path.join(this.host.ttyDir ?? path.join(this.host.root, "lib"), `${session}.tty`);
    try {
      // synchronously: keys and a resize pushed right after the open find the shell registered. Written aside and
      // renamed: a shell opened a moment before reads its rc now, and must never see it truncated mid-write
      const partial = `${this.rcFile}.${session}`;
      writeFileSync(
        partial,
        [
          "# the shell of a shared terminal: the system's rc, then the instance's environment (as the recipes had)",
          "[ -r /etc/bash.bashrc ] && . /etc/bash.bashrc",
          `. ${shellQuote(this.inShell(this.host.setenv))}`,
          `cd ${shellQuote(this.inShell(this.host.root))}`,
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the shell expands it, not JavaScript
          'PS1="${SLIPSTREAM_NODE_INSTANCE_NAME:-slipstream}:\\w\\$ "',
          "",
        ].join("\n"),
      );
      renameSync(partial, this.rcFile);
    } catch (err) {
      this.exit(session, null, `the terminal could not start: ${(err as Error).message}`);
      return;
    }
    const rc = shellQuote(this.inShell(this.rcFile));
    const command = [
      `stty rows ${rows} cols ${cols} 2>/dev/null`,
      `tty > ${shellQuote(this.inShell(ttyFile))} 2>/dev/null`,
      `if command -v bash >/dev/null 2>&1; then exec bash --rcfile ${rc} -i; else ENV=${rc} exec sh -i; fi`,
    ].join("; ");
    const argv = ["script", "-qfec", command, "/dev/null"];
    const wrap = this.host.wrap();
    const full = wrap ? wrap(argv) : argv;
    const child = spawn(full[0], full.slice(1), {
      cwd: this.host.root,
      // script runs its -c command with $SHELL: a plain sh, whatever the agent's own was
      env: { ...loginEnv(this.host.env()), TERM: "xterm-256color", SHELL: "/bin/sh" },
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const shell: Shell = {
      child,
      chunk: 0,
      pending: "",
      flushTimer: undefined,
      inflight: 0,
      ttyFile,
      closing: false,
      started: false,
      queue: Promise.resolve(),
    };
    this.shells.set(session, shell);
    child.stdout?.setEncoding("utf8");
    child.stderr?.setEncoding("utf8");
    const onData = (data: string) => this.gather(session, shell, data);
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.stdin?.on("error", () => {}); // the shell gone while typing: its exit says so
    child.on("error", (err) => {
      this.shells.delete(session);
      this.exit(session, null, `the terminal could not start: ${err.message}`);
    });
    child.on("close", (code, signal) => {
      if (this.shells.get(session) !== shell) return;
      this.shells.delete(session);
      this.flush(session, shell);
      void rm(ttyFile, { force: true });
      this.exit(session, code, signal && !shell.closing ? `the shell was killed (${signal})` : "");
    });
  }

  private enqueue(session: string, step: (shell: Shell) => Promise<void> | undefined): void {
    const shell = this.shells.get(session);
    if (!shell) return;
    shell.queue = shell.queue
      .then(() => step(shell))
      .catch((err: unknown) => {
        this.host.log(`terminal ${session}: ${(err as Error).message}`);
      });
  }

  private gather(session: string, shell: Shell, data: string): void {
    if (!shell.started) {
      shell.started = true;
      shell.ready?.();
    }
    shell.pending += data;
    if (shell.pending.length >= TERMINAL_LIMITS.outputChunkBytes / 4) this.flush(session, shell);
    else shell.flushTimer ??= setTimeout(() => this.flush(session, shell), FLUSH_MS);
  }

  private flush(session: string, shell: Shell): void {
    clearTimeout(shell.flushTimer);
    shell.flushTimer = undefined;
    // in pieces the wire takes (a utf-16 unit is at most 3 utf-8 bytes)
    const piece = Math.floor(TERMINAL_LIMITS.outputChunkBytes / 3);
    while (shell.pending.length > 0) {
      const data = shell.pending.slice(0, piece);
      shell.pending = shell.pending.slice(piece);
      shell.inflight++;
      if (shell.inflight >= MAX_INFLIGHT) shell.child.stdout?.pause();
      void this.link.request("term:output", { session, chunk: ++shell.chunk, data }).then((ack) => {
        // a server that no longer knows the terminal (it restarted) has no one to show it to
        if (!ack.ok && ack.error.code === "NOT_FOUND") this.close(session);
        shell.inflight--;
        if (shell.inflight < MAX_INFLIGHT / 2) shell.child.stdout?.resume();
      });
    }
  }

  private exit(session: string, code: number | null, message: string): void {
    void this.link.request("term:exit", { session, code, message });
  }

  private async resize(session: string, shell: Shell, rows: number, cols: number): Promise<void> {
    // the pty is named once the shell printed (its prompt): a resize asked for before waits for it
    if (!shell.started) await new Promise<void>((resolve) => (shell.ready = resolve));
    const tty = (await readFile(shell.ttyFile, "utf8").catch(() => "")).trim();
    if (!/^\/dev\/pts\/\d+$/.test(tty)) return;
    // the pty's size changes, and the shell's foreground program gets SIGWINCH, as in any terminal
    const argv = ["stty", "-F", tty, "rows", String(rows), "cols", String(cols)];
    const wrap = this.host.wrap();
    const full = wrap ? wrap(argv) : argv;
    await new Promise<void>((resolve) => {
      const child = spawn(full[0], full.slice(1), { stdio: "ignore" });
      child.on("error", (err) => {
        this.host.log(`resizing terminal ${session}: ${err.message}`);
        resolve();
      });
      child.on("close", () => resolve());
    });
  }

  close(session: string): void {
    const shell = this.shells.get(session);
    if (!shell || shell.closing) return;
    shell.closing = true;
    this.signal(shell, "SIGHUP");
    setTimeout(() => this.signal(shell, "SIGKILL"), KILL_GRACE_MS).unref();
  }

  closeAll(): void {
    for (const session of [...this.shells.keys()]) this.close(session);
  }

  private signal(shell: Shell, sig: NodeJS.Signals): void {
    if (shell.child.exitCode !== null || shell.child.signalCode !== null || shell.child.pid === undefined) return;
    try {
      process.kill(-shell.child.pid, sig);
    } catch {
      shell.child.kill(sig);
    }
  }
}
