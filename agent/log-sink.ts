import { createWriteStream, type WriteStream } from "node:fs";
import type { z } from "zod";
import type { LogAppendRequest, LogTarget } from "../protocol/agent-socket.js";

export type LogTargetName = z.infer<typeof LogTarget>;
export type LogStream = "stdout" | "stderr" | "agent";
type Chunk = z.input<typeof LogAppendRequest>;

const FLUSH_BYTES = 16 * 1024;
const FLUSH_DELAY_MS = 50;

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
 */
export class LogSink {
  private readonly file: WriteStream;
  private readonly buffers = new Map<string, Buffered>();
  private chunk = 0;

  constructor(
    path: string,
    private readonly send: (chunk: Chunk) => void,
  ) {
    this.file = createWriteStream(path, { flags: "a" });
    this.file.on("error", (err) => process.stderr.write(`log file: ${err.message}\n`));
  }

  write(target: LogTargetName, stream: LogStream, data: string): void {
    if (!data) return;
    this.file.write(data);
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
    process.stdout.write(`${new Date().toISOString()} ${line}\n`);
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
      this.send({ chunk: ++this.chunk, target: b.target, stream: b.stream, data: data.slice(0, end) });
      data = data.slice(end);
    }
  }
}
