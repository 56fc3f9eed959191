import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync } from "node:fs";
import { readdir, readlink, rm, rmdir } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import {
  HOST_OUTPUT,
  HOST_OWN_ENTRIES,
  HOST_SHARED_DIR,
  HOST_SOCKET_ENV,
  HOST_SPAWNER_ENV,
  type HostInstance,
  type HostRequest,
  HostResponse,
  LOCAL_AGENTS_ENV,
  LocalAgentsMode,
  onlyHostEntries,
} from "../../protocol/local-host.js";
import { passedEnv } from "./local-process.js";

/**
 * The option wins, then SLIPSTREAM_LOCAL_AGENTS, else one host per run (a Node process per instance costs ~40 MB of
 * RSS before it does anything); a value that is neither mode is refused, naming the variable.
 */
export function localAgentsMode(option?: LocalAgentsMode): LocalAgentsMode {
  if (option) return option;
  const env = process.env[LOCAL_AGENTS_ENV];
  if (env === undefined || env === "") return "per-run";
  const parsed = LocalAgentsMode.safeParse(env);
  if (!parsed.success) throw new Error(`${LOCAL_AGENTS_ENV}: must be per-run or per-instance, not '${env}'`);
  return parsed.data;
}

/** sun_path's limit, as for the agents' sockets (agent/ipc-address.ts). */
const MAX_SOCKET_PATH = 100;

/**
 * The control socket of a run's host: in the run's directory (0700, the server's), which no machine shows; a deep
 * data directory falls back to a name in the server's temp directory derived from it (the socket is 0600).
 */
export function hostSocketPath(runDir: string): string {
  const inRunDir = path.join(runDir, "host.sock");
  if (Buffer.byteLength(inRunDir) <= MAX_SOCKET_PATH) return inRunDir;
  const digest = createHash("sha256").update(runDir).digest("hex").slice(0, 20);
  return path.join(os.tmpdir(), `ss-host-${digest}.sock`);
}

type Request = HostRequest extends infer R ? (R extends unknown ? Omit<R, "id"> : never) : never;

/** One request to a run's host: its answer, or null when no host listens there. */
export function hostRequest(socketPath: string, req: Request, timeoutMs: number): Promise<HostResponse | null> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let buffer = "";
    let settled = false;
    let answered: HostResponse | null = null;
    const done = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      fn();
    };
    const timer = setTimeout(
      () => done(() => reject(new Error(`the run's agent host did not answer ${req.op} in ${timeoutMs} ms`))),
      timeoutMs,
    );
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(`${JSON.stringify({ ...req, id: 1 })}\n`));
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      const nl = buffer.indexOf("\n");
      if (nl === -1) return;
      const parsed = HostResponse.safeParse(JSON.parse(buffer.slice(0, nl)));
      if (!parsed.success) {
        done(() => reject(new Error("the run's agent host answered something else")));
        return;
      }
      // its last instance stopped: the host ends now, and is gone (its socket closed) when the stop returns
      if (req.op === "stop" && parsed.data.ok && parsed.data.instances.length === 0) answered = parsed.data;
      else done(() => resolve(parsed.data));
    });
    socket.on("error", (err: NodeJS.ErrnoException) =>
      done(() =>
        err.code === "ENOENT" || err.code === "ECONNREFUSED" || err.code === "ECONNRESET"
          ? resolve(answered)
          : reject(err),
      ),
    );
    socket.on("close", () => done(() => resolve(answered)));
  });
}

/** Starts a run's host, detached (it outlives a server restart); resolves once it listens on `socketPath`. */
async function spawnHost(hostScript: string, runDir: string, socketPath: string, timeoutMs: number): Promise<void> {
  const out = openSync(path.join(runDir, HOST_OUTPUT), "a", 0o600);
  try {
    const child = spawn(process.execPath, [hostScript], {
      cwd: runDir,
      // the server's harmless variables only: every instance's token reaches the host through its socket, never here
      env: {
        ...passedEnv(),
        [HOST_SOCKET_ENV]: socketPath,
        ...(process.env[HOST_SPAWNER_ENV] ? { [HOST_SPAWNER_ENV]: process.env[HOST_SPAWNER_ENV] } : {}),
      } as Record<string, string> as NodeJS.ProcessEnv,
      detached: true,
      stdio: ["ignore", out, out, "pipe"],
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const started = new Promise<void>((resolve, reject) => {
      // a host that never says it listens (hung at start) would hold every start of the run: it goes, they fail
      timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`the run's agent host did not start in ${timeoutMs / 1000} s; see ${runDir}/host.out`));
      }, timeoutMs);
      const ready = child.stdio[3] as Readable;
      let said = "";
      ready.setEncoding("utf8");
      ready.on("data", (d: string) => {
        said += d;
        if (said.includes("ready\n")) resolve();
      });
      child.once("error", reject);
      child.once("exit", (code, signal) =>
        reject(new Error(`the run's agent host ended at start (${signal ?? `exit ${code}`}); see ${runDir}/host.out`)),
      );
    });
    await started.finally(() => clearTimeout(timer));
    (child.stdio[3] as Readable).destroy();
    child.removeAllListeners("exit");
    child.unref();
  } finally {
    closeSync(out);
  }
}

/** How long a run's host may take to say it is there before a start is refused (it never is replaced while alive). */
export const LIST_TIMEOUT_MS = 10_000;

/** A host's start (a Node process loading its bundle): seconds, even on a loaded machine. */
const HOST_START_TIMEOUT_MS = 120_000;

/** An add's answer: its own start (seconds) after its turn among the run's other starts (a few at a time). */
const ADD_TIMEOUT_MS = 10 * 60_000;

/** The hosts of this server's runs: found by their socket (after a restart too), started when a run has none. */
export class RunHosts {
  /** per run, the host being found or started: concurrent starts of one run's instances share one host */
  private readonly starting = new Map<string, Promise<void>>();
  /** per run, the instances whose stop is under way */
  private readonly stopping = new Map<string, Set<string>>();

  constructor(
    private readonly hostScript: string,
    /** how long a new host may take to say it listens */
    private readonly startTimeoutMs = HOST_START_TIMEOUT_MS,
  ) {}

  /** Has the run's host serve `inst`; returns the host's pid. */
  async add(runDir: string, inst: HostInstance): Promise<number> {
    const socketPath = hostSocketPath(runDir);
    for (let attempt = 0; attempt < 2; attempt++) {
      await this.ensure(runDir, socketPath);
      // the host starts a few instances at a time: a launch of 500 queues most adds behind the others' starts
      const answer = await hostRequest(socketPath, { op: "add", instance: inst }, ADD_TIMEOUT_MS);
      // null: the host ended between our two requests (its last instance had just stopped): once more, anew
      if (answer === null) continue;
      if (!answer.ok) throw new Error(`the run's agent host could not start ${inst.instance}: ${answer.error}`);
      return answer.pid;
    }
    throw new Error(`the run's agent host went away while starting ${inst.instance}`);
  }

  /** A graceful stop of one instance by its host, if the run has one; false when there was none to ask. */
  async stop(runDir: string, instance: string, timeoutMs: number, hostPid?: number): Promise<boolean> {
    const socketPath = hostSocketPath(runDir);
    const stopping = this.stopping.get(runDir) ?? new Set<string>();
    this.stopping.set(runDir, stopping.add(instance));
    let answer: HostResponse | null | undefined;
    try {
      answer = await hostRequest(socketPath, { op: "stop", instance }, timeoutMs).catch(() => undefined);
      // a host that does not answer (stopped, hung) would outlive its run: once it serves no instance that is not
      // being stopped too (a run's end stops them all at once), it goes
      if (answer === undefined && hostPid !== undefined && (await nothingElseServed(runDir, stopping))) {
        if (await killHost(hostPid, runDir)) await rm(socketPath, { force: true });
      }
    } finally {
      stopping.delete(instance);
      if (stopping.size === 0) this.stopping.delete(runDir);
    }
    // nobody listens: a host killed (kill -9, OOM) leaves its socket, which would keep the run's directory forever;
    // a host being started for the run right now listens on a new socket of its own, left alone
    if (answer === null && !this.starting.has(runDir)) await rm(socketPath, { force: true });
    return answer != null;
  }

  /**
   * The run's directory once its last instance went, unless a host still serves the run: a host that ended on its
   * own removed its output already, a killed one's goes now (nothing else would ever remove the directory).
   */
  async removeRunDir(runDir: string): Promise<void> {
    if (!this.starting.has(runDir) && !existsSync(hostSocketPath(runDir))) {
      const left = await readdir(runDir).catch(() => null);
      if (left && onlyHostEntries(left)) {
        for (const f of HOST_OWN_ENTRIES) await rm(path.join(runDir, f), { recursive: true, force: true });
      }
    }
    await rmdir(runDir).catch(() => undefined);
  }

  private ensure(runDir: string, socketPath: string): Promise<void> {
    const pending = this.starting.get(runDir);
    if (pending) return pending;
    const p = (async () => {
      // a host that listens but does not answer (stopped, starved) is not replaced: a second host on the same socket
      // would leave the first one's instances unreachable (their stops could only kill them) — the start fails instead
      const there = await hostRequest(socketPath, { op: "list" }, LIST_TIMEOUT_MS);
      if (there?.ok) return;
      await spawnHost(this.hostScript, runDir, socketPath, this.startTimeoutMs);
    })().finally(() => this.starting.delete(runDir));
    this.starting.set(runDir, p);
    return p;
  }
}

/** True when every instance directory left in the run's directory is one being stopped. */
async function nothingElseServed(runDir: string, stopping: Set<string>): Promise<boolean> {
  const entries = await readdir(runDir, { withFileTypes: true }).catch(() => null);
  return entries?.every((e) => !e.isDirectory() || e.name === HOST_SHARED_DIR || stopping.has(e.name)) ?? false;
}

/** SIGKILL to the run's host, once its pid is checked to be that host (its cwd is the run's directory). */
async function killHost(pid: number, runDir: string): Promise<boolean> {
  const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => null);
  if (cwd !== runDir) return false;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return false;
  }
  return true;
}
