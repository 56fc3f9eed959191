import { constants, createWriteStream, openSync, renameSync, type WriteStream } from "node:fs";
import type { z } from "zod";
import type { LogAppendRequest, LogTarget } from "../protocol/agent-socket.js";

export type LogTargetName = z.infer<typeof LogTarget>;
type LogStream = "stdout" | "stderr" | "agent";
type Chunk = z.input<typeof LogAppendRequest>;

const FLUSH_BYTES = 16 * 1024;
const FLUSH_DELAY_MS = 50;
/** log bytes sent and not yet acknowledged past which the recipes' output is paused (they block on write) */
const MAX_IN_FLIGHT = 1024 * 1024;
/** the server's default per-instance log limit; the server's own comes with its hello */
const DEFAULT_LOG_LIMIT = 8 * 1024 * 1024;

interface Buffered {
  target: LogTargetName;
  stream: LogStream;
  data: string;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The instance's log: every byte goes to `<workspace>/slipstream.log` at once and to the server in
 * numbered chunks, coalesced per target and stream (a flush at 16 KiB or 50 ms after the first
 * pending byte) so a chatty script does not become one socket message per line. Bytes of another
 * target or stream first flush what is pending, so the chunks keep the order things were written in
 * (a script's `set -x` trace beside its output, "Target execute finished" after the last of it).
 *
 * A flood is bounded twice. On the wire: past MAX_IN_FLIGHT unacknowledged bytes `congested` is true and the
 * script runner pauses the recipes' pipes until `whenDrained`, so a recipe writes no faster than the server
 * stores (as on a slow terminal) and the agent's memory stays flat. On disk: the file keeps its first half-limit
 * bytes, then the rest goes to `<log>.tail`, rotated to `<log>.tail.1` at each half-limit, so the workspace
 * holds at most one and a half limits of log whatever a recipe prints; the report packs all three.
 */
export class LogSink {
  private file: WriteStream;
  private readonly buffers = new Map<string, Buffered>();
  private chunk = 0;
  private inFlight = 0;
  private drainers: (() => void)[] = [];
  /** bytes written to the current file: the head file, then each tail file */
  private fileBytes = 0;
  private inTail = false;

  constructor(
    private readonly path: string,
    /** a promise that settles when the server has the chunk (the sink counts bytes in flight until then) */
    private readonly send: (chunk: Chunk) => unknown,
    private limit = DEFAULT_LOG_LIMIT,
    /** where agent-side lines are echoed: the agent's own output (a host process keeps one per instance) */
    private readonly echo: (text: string) => void = (text) => process.stdout.write(text),
  ) {
    this.file = this.open(path, "a");
  }

  /**
   * The last chunk the server stored (from its hello): an agent started again for the same instance numbers on
   * after it, or its first chunks would be taken for ones already stored and dropped. A reconnect of the same
   * process is already past it.
   */
  resumeAfter(stored: number): void {
    this.chunk = Math.max(this.chunk, stored);
  }

  /** The server's limit (from its hello); a smaller one applies from the next byte. */
  setLimit(bytes: number): void {
    this.limit = bytes;
  }

  /** True while too many bytes are on their way to the server: the caller pauses its source. */
  get congested(): boolean {
    return this.inFlight > MAX_IN_FLIGHT;
  }

  /** Calls `fn` once the bytes in flight are below the threshold again (at once if they are). */
  whenDrained(fn: () => void): void {
    if (!this.congested) fn();
    else this.drainers.push(fn);
  }

  private open(path: string, flags: "a" | "w"): WriteStream {
    // opened at once (not on the stream's first tick), so a rotation can rename the file right after
    // never through a link: the workspace is the recipes', and a host process serving them may be root
    const { O_WRONLY, O_CREAT, O_APPEND, O_TRUNC, O_NOFOLLOW } = constants;
    const mode = O_WRONLY | O_CREAT | O_NOFOLLOW | (flags === "a" ? O_APPEND : O_TRUNC);
    const file = createWriteStream(path, { fd: openSync(path, mode, 0o644) });
    file.on("error", (err) => process.stderr.write(`log file: ${err.message}\n`));
    return file;
  }

  private writeFile(data: string): void {
    const bytes = Buffer.byteLength(data);
    if (this.fileBytes > 0 && this.fileBytes + bytes > Math.floor(this.limit / 2)) this.rotate();
    this.fileBytes += bytes;
    this.file.write(data);
  }

  /** The head file is full, or the current tail file is: the next bytes go to a fresh tail file. */
  private rotate(): void {
    const tail = `${this.path}.tail`;
    if (!this.inTail) {
      this.file.write(
        `\n[slipstream] this log is over half its limit: it goes on in ${tail} (and ${tail}.1 before it)\n`,
      );
      this.inTail = true;
    } else {
      // by inode: the full tail's pending writes still land in it under its new name
      renameSync(tail, `${tail}.1`);
    }
    this.file.end();
    this.file = this.open(tail, "w");
    this.fileBytes = 0;
  }

  write(target: LogTargetName, stream: LogStream, data: string): void {
    if (!data) return;
    this.writeFile(data);
    const key = `${target}\u0000${stream}`;
    for (const [k, other] of this.buffers) if (k !== key && other.data) this.flush(other);
    let buffered = this.buffers.get(key);
    if (!buffered) {
      buffered = { target, stream, data: "", timer: undefined };
      this.buffers.set(key, buffered);
    }
    buffered.data += data;
    if (buffered.data.length >= FLUSH_BYTES) this.flush(buffered);
    else if (!buffered.timer) {
      const b = buffered;
      b.timer = setTimeout(() => this.flush(b), FLUSH_DELAY_MS);
    }
  }

  /** An agent-side line ("Running target execute"), also echoed to the agent's own output. */
  agent(line: string): void {
    this.echo(`${new Date().toISOString()} ${line}\n`);
    this.write("agent", "agent", `[agent] ${line}\n`);
  }

  flushAll(): void {
    for (const b of this.buffers.values()) this.flush(b);
  }

  close(): Promise<void> {
    this.flushAll();
    return new Promise((resolve) => this.file.end(resolve));
  }

  /** Resolves once everything written so far is on disk (the report packs the log file). */
  sync(): Promise<void> {
    return new Promise((resolve) => this.file.write("", () => resolve()));
  }

  private flush(b: Buffered): void {
    clearTimeout(b.timer);
    b.timer = undefined;
    let data = b.data;
    b.data = "";
    while (data) {
      let end = Math.min(FLUSH_BYTES, data.length);
      // never split a surrogate pair across chunks
      const code = data.charCodeAt(end - 1);
      if (end < data.length && code >= 0xd800 && code <= 0xdbff) end--;
      const part = data.slice(0, end);
      this.inFlight += part.length;
      const sent = this.send({ chunk: ++this.chunk, target: b.target, stream: b.stream, data: part });
      const done = () => {
        this.inFlight -= part.length;
        if (!this.congested && this.drainers.length > 0) for (const fn of this.drainers.splice(0)) fn();
      };
      if (sent instanceof Promise) sent.then(done, done);
      else done();
      data = data.slice(end);
    }
  }
}
