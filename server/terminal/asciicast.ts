/**
 * A terminal's recording in asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): a JSON header line,
 * then one `[seconds, "o", data]` line per output chunk (`"r"`, "COLSxROWS", for a resize). Kept in memory up to
 * `maxBytes`; past them the recording stops with a last line that says so, and the terminal goes on.
 */
export class AsciicastRecorder {
  private readonly lines: string[];
  private bytes = 0;
  private full = false;
  private readonly startedAt = Date.now();

  constructor(
    header: { cols: number; rows: number; title: string },
    private readonly maxBytes: number,
  ) {
    this.lines = [
      JSON.stringify({
        version: 2,
        width: header.cols,
        height: header.rows,
        timestamp: Math.floor(this.startedAt / 1000),
        title: header.title,
        env: { TERM: "xterm-256color", SHELL: "/bin/bash" },
      }),
    ];
  }

  output(data: string): void {
    this.add("o", data);
  }

  resize(cols: number, rows: number): void {
    this.add("r", `${cols}x${rows}`);
  }

  private add(kind: "o" | "r", data: string): void {
    if (this.full) return;
    const t = Math.round(Date.now() - this.startedAt) / 1000;
    const line = JSON.stringify([t, kind, data]);
    if (this.bytes + line.length > this.maxBytes) {
      this.full = true;
      this.lines.push(JSON.stringify([t, "o", `\r\n[slipstream: recording stopped at ${this.maxBytes} bytes]\r\n`]));
      return;
    }
    this.bytes += line.length;
    this.lines.push(line);
  }

  text(): string {
    return `${this.lines.join("\n")}\n`;
  }
}
