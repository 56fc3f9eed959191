import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import net from "node:net";
import { Readable } from "node:stream";
import { describeZodError } from "../protocol/errors.js";
import { type Launched, type LaunchOptions, launchHere } from "./launch.js";
import { parseStreamHeader, SpawnerEvent, type SpawnerRequest, STREAM_HEADER_BYTES } from "./spawner-protocol.js";

type Exit = { code: number | null; signal: NodeJS.Signals | null };

/**
 * How long a spawner with starts waiting may say nothing at all before it is taken for stuck (stopped, or blocked in
 * the kernel) and killed: the starts waiting fail, naming it, instead of hanging their instances until the run's
 * timeout. Each start is answered within milliseconds, and a long queue answers one after another.
 */
const STALL_MS = 60_000;

/** A process the spawner started, as the host sees it: its pipes are the host's ends of them (accepted sockets). */
class SpawnedChild extends EventEmitter implements Launched {
  readonly stdio: (Readable | null)[];
  private ended: Exit | null = null;
  private openPipes: number;
  private closed = false;
  /** its spawner died: its exit status is lost, it is taken as killed once its pipes have ended */
  private orphan = false;

  constructor(
    readonly pid: number | undefined,
    pipes: Readable[],
    /** how many of them have not closed yet (pipeClosed tells of each that does) */
    openPipes: number,
    private readonly signal: (signal: NodeJS.Signals) => void,
  ) {
    super();
    this.stdio = [null, ...pipes];
    this.openPipes = openPipes;
  }

  pipeClosed(): void {
    this.openPipes--;
    if (this.orphan && this.openPipes === 0) this.exited({ code: null, signal: "SIGKILL" });
    this.closeIfDone();
  }

  get stdout(): Readable | null {
    return this.stdio[1] ?? null;
  }

  get stderr(): Readable | null {
    return this.stdio[2] ?? null;
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): boolean {
    if (this.ended || this.orphan || this.pid === undefined) return false;
    this.signal(signal);
    return true;
  }

  exited(exit: Exit): void {
    if (this.ended) return;
    this.ended = exit;
    this.emit("exit", exit.code, exit.signal);
    // as a ChildProcess does: a pipe nobody reads is drained, so that it can end and 'close' be told
    for (const pipe of this.stdio) if (pipe && pipe.readableFlowing === null) pipe.resume();
    this.closeIfDone();
  }

  orphaned(): void {
    this.orphan = true;
    if (this.openPipes === 0) this.exited({ code: null, signal: "SIGKILL" });
  }

  /** as a ChildProcess that could not be started: 'error', then 'close' */
  failed(message: string): void {
    this.ended = { code: null, signal: null };
    this.emit("error", new Error(message));
    this.closeIfDone();
  }

  private closeIfDone(): void {
    if (this.closed || !this.ended || this.openPipes > 0) return;
    this.closed = true;
    this.emit("close", this.ended.code, this.ended.signal);
  }
}

interface Request {
  argv: readonly string[];
  opts: LaunchOptions;
  resolve: (child: Launched) => void;
  pipes: (net.Socket | undefined)[];
  arrived: number;
  /** pipes that closed before the child was handed over (one with no output may, right after its header) */
  closedEarly: number;
  /** by fd - 1: the pipe's 'end' came before the child was handed over */
  endedEarly: boolean[];
  settling?: boolean;
  pid?: number;
  exit?: Exit;
  child?: SpawnedChild;
  /** started by a spawner that died since: its exit status will never come */
  orphan?: boolean;
}

/**
 * The host's side of its spawner (spawner-main.ts), a small Node process that starts the host's machines and recipes
 * so the host's own thread never forks (its launcher, launch.ts). Each child's pipes reach the host as connections to
 * an abstract unix socket of a random name (no file: nothing is left behind when host and spawner are killed at once),
 * matched to their request by a header that starts with a nonce only the two know — any other connection is cut. A spawner that dies takes the
 * machines with it (they die with their parent); the host goes on: what it had started is reported killed once its
 * pipes ended, what it had not is refused, and the next start has a new spawner. One that never came up (no bundle
 * file, no Node) leaves the host starting its children itself.
 */
export class Spawner {
  private proc: ChildProcess | null = null;
  /** the running spawner said it is ready: a request it dies with may have been started */
  private ready = false;
  private broken = false;
  private nextId = 1;
  private readonly requests = new Map<number, Request>();
  private readonly nonce = randomBytes(16).toString("hex");
  private readonly server: net.Server;
  /** when the spawner last said anything (a message or a pipe), performance.now() */
  private heardAt = 0;
  private watchdog: ReturnType<typeof setTimeout> | null = null;
  /** the process killed for saying nothing while starts waited (its starts are refused, naming why) */
  private stalled: ChildProcess | null = null;

  private constructor(
    private readonly command: readonly string[],
    /** abstract (leading NUL): in the host's network namespace, no file */
    private readonly socketPath: string,
    private readonly stallMs: number,
  ) {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  /** Listens for the pipes, and starts the spawner (`command`: Node and its script). */
  static async start(command: readonly string[], opts: { stallMs?: number } = {}): Promise<Spawner> {
    const name = `\0slipstream-spawner-${randomBytes(12).toString("hex")}`;
    const spawner = new Spawner(command, name, opts.stallMs ?? STALL_MS);
    await new Promise<void>((resolve, reject) => {
      spawner.server.once("error", reject);
      spawner.server.listen(spawner.socketPath, () => {
        spawner.server.off("error", reject);
        resolve();
      });
    });
    spawner.startProcess();
    return spawner;
  }

  /** The launcher (launch.ts) that starts through this spawner. */
  readonly launch = (argv: readonly string[], opts: LaunchOptions): Promise<Launched> => {
    if (this.broken) return launchHere(argv, opts);
    if (!this.proc) this.startProcess();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.requests.set(id, { argv, opts, resolve, pipes: [], arrived: 0, closedEarly: 0, endedEarly: [] });
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(opts.env)) if (v !== undefined) env[k] = v;
      this.send({ op: "spawn", id, argv: [...argv], env, cwd: opts.cwd, detached: opts.detached, pipes: opts.pipes });
      this.watch();
    });
  };

  /** Arms the watchdog while starts wait for the spawner's answer (a timeout, not a poll: it fires once per stall). */
  private watch(): void {
    if (this.watchdog) return;
    const waiting = [...this.requests.values()].some((r) => !r.child && !r.orphan);
    if (!waiting || !this.proc) return;
    const left = Math.max(0, this.heardAt + this.stallMs - performance.now());
    this.watchdog = setTimeout(() => {
      this.watchdog = null;
      const proc = this.proc;
      if (proc && performance.now() - this.heardAt >= this.stallMs) {
        process.stderr.write(
          `slipstream agent host: its spawner said nothing for ${this.stallMs / 1000} s while starts waited: killed\n`,
        );
        this.stalled = proc;
        proc.kill("SIGKILL");
        return;
      }
      this.watch();
    }, left);
    this.watchdog.unref();
  }

  private noteHeard(): void {
    this.heardAt = performance.now();
  }

  /** The spawner's pid (tests). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Ends the spawner (its children die with it if they die with their parent) and the socket. */
  close(): void {
    this.broken = true;
    if (this.watchdog) clearTimeout(this.watchdog);
    this.proc?.disconnect();
    this.server.close();
  }

  private startProcess(): void {
    this.ready = false;
    const proc = spawn(this.command[0], this.command.slice(1), {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } as Record<string, string> as NodeJS.ProcessEnv,
      // the host's output; not detached: in the host's process group, but it ignores what a stop sends that group
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.proc = proc;
    this.noteHeard();
    proc.on("error", () => undefined);
    proc.on("message", (raw: unknown) => this.heard(raw));
    proc.once("exit", (code, signal) => this.lost(proc, code, signal));
    this.send({ op: "init", socket: this.socketPath, nonce: this.nonce });
  }

  private send(req: SpawnerRequest): void {
    // a spawner gone meanwhile fails its requests when its exit is seen (lost)
    if (this.proc?.connected) this.proc.send(req, (err: Error | null) => void err);
  }

  private heard(raw: unknown): void {
    this.noteHeard();
    const parsed = SpawnerEvent.safeParse(raw);
    if (!parsed.success) {
      process.stderr.write(`slipstream agent host: spawner said something else: ${describeZodError(parsed.error)}\n`);
      return;
    }
    const ev = parsed.data;
    if ("ready" in ev) {
      this.ready = true;
      return;
    }
    const req = this.requests.get(ev.id);
    if (!req) return;
    if ("pid" in ev) {
      req.pid = ev.pid;
      this.settle(ev.id, req);
    } else if ("error" in ev) {
      this.refuse(ev.id, req, ev.error);
    } else {
      const exit = { code: ev.exit.code, signal: ev.exit.signal as NodeJS.Signals | null };
      if (req.child) {
        this.requests.delete(ev.id);
        req.child.exited(exit);
      } else req.exit = exit;
    }
  }

  /**
   * Resolves the request once the spawner said its pid and every pipe of it is here — on the next turn: a pipe whose
   * EOF came with its header has ended by then (its 'end' is emitted a tick after the header was read, before anyone
   * could listen), and is handed over as an empty stream that ends when read.
   */
  private settle(id: number, req: Request): void {
    if (req.settling || req.pid === undefined || req.arrived < req.opts.pipes) return;
    req.settling = true;
    setImmediate(() => this.handOver(id, req, req.pid as number));
  }

  private handOver(id: number, req: Request, pid: number): void {
    const pipes = req.pipes.map((p, i) => (req.endedEarly[i] ? Readable.from([]) : (p as net.Socket)));
    const child = new SpawnedChild(pid, pipes, req.opts.pipes - req.closedEarly, (signal) =>
      this.send({ op: "kill", id, signal }),
    );
    req.child = child;
    req.resolve(child);
    // what happened before anyone could listen is told on the next turn, once the caller has its listeners on
    const exit = req.exit;
    if (exit) {
      this.requests.delete(id);
      setImmediate(() => child.exited(exit));
    } else if (req.orphan) {
      this.requests.delete(id);
      setImmediate(() => child.orphaned());
    }
  }

  private refuse(id: number, req: Request, message: string): void {
    this.requests.delete(id);
    for (const p of req.pipes) p?.destroy();
    const child = new SpawnedChild(
      undefined,
      Array.from({ length: req.opts.pipes }, () => Readable.from([])),
      0,
      () => undefined,
    );
    req.resolve(child);
    setImmediate(() => child.failed(message));
  }

  /** A pipe: its header says whose and which fd; then it is that fd of the child, nothing more is read here. */
  private accept(socket: net.Socket): void {
    socket.on("error", () => undefined);
    const onEnd = () => socket.destroy();
    const onReadable = () => {
      const header = socket.read(STREAM_HEADER_BYTES) as Buffer | null;
      if (header === null) return;
      socket.off("readable", onReadable);
      socket.off("end", onEnd);
      const named = parseStreamHeader(header.toString("latin1"), this.nonce);
      const req = named ? this.requests.get(named.id) : undefined;
      if (!named || !req || req.child || named.fd > req.opts.pipes || req.pipes[named.fd - 1]) {
        socket.destroy();
        return;
      }
      req.pipes[named.fd - 1] = socket;
      req.arrived++;
      this.noteHeard();
      socket.once("end", () => {
        if (!req.child) req.endedEarly[named.fd - 1] = true;
      });
      socket.once("close", () => {
        if (req.child) req.child.pipeClosed();
        else req.closedEarly++;
      });
      this.settle(named.id, req);
    };
    socket.on("readable", onReadable);
    socket.once("end", onEnd);
  }

  /** The spawner ended (killed, crashed, or never started). */
  private lost(proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.proc !== proc) return;
    this.proc = null;
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = null;
    const why = this.stalled === proc ? `said nothing for ${this.stallMs / 1000} s and was killed` : "ended";
    const wasReady = this.ready;
    if (!this.broken) {
      process.stderr.write(
        `slipstream agent host: its spawner ended (${signal ?? `exit ${code}`})${wasReady ? "" : " before it was ready: the host starts its processes itself"}\n`,
      );
    }
    if (!wasReady) this.broken = true;
    for (const [id, req] of this.requests) {
      if (req.child) {
        this.requests.delete(id);
        req.child.orphaned();
      } else if (req.pid !== undefined) {
        // started: its pipes are on their way (connected before it was), it ends as an orphan once they ended
        req.orphan = true;
        this.settle(id, req);
      } else if (!wasReady) {
        // nothing was started: the host starts it itself
        this.requests.delete(id);
        for (const p of req.pipes) p?.destroy();
        void launchHere(req.argv, req.opts).then(req.resolve);
      } else {
        this.refuse(id, req, `spawn ${req.argv[0]}: the agent host's spawner ${why} before starting it`);
      }
    }
  }
}
