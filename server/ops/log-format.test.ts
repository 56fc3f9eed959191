import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, defaultLogFormat } from "../log.js";

/** A destination that keeps what is written. */
function sink() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join("") };
}

describe("log format", () => {
  it("JSON: one object a line, credentials redacted", () => {
    const out = sink();
    createLogger({ destination: out.stream, format: "json" }).info({ run: "r1", token: "s3cret" }, "resumed run");
    const line = JSON.parse(out.text().trim());
    expect(line).toMatchObject({ level: 30, run: "r1", token: "[Redacted]", msg: "resumed run" });
  });

  it("pretty: a line for a person, the level in words, credentials redacted, no colour off a terminal", () => {
    const out = sink();
    createLogger({ destination: out.stream, format: "pretty" }).warn(
      { run: "r1", host: { password: "hunter2" } },
      "storage full",
    );
    const text = out.text();
    expect(() => JSON.parse(text.trim())).toThrow();
    expect(text).toMatch(/WARN.*storage full/);
    expect(text).toContain('run: "r1"');
    expect(text).toContain("[Redacted]");
    expect(text).not.toContain("hunter2");
    // biome-ignore lint/suspicious/noControlCharactersInRegex: an ANSI colour escape is what must be absent
    expect(text).not.toMatch(/\u001b\[/);
  });

  it("defaults to pretty on a terminal only", () => {
    const was = process.stdout.isTTY;
    try {
      process.stdout.isTTY = true;
      expect(defaultLogFormat()).toBe("pretty");
      process.stdout.isTTY = false;
      expect(defaultLogFormat()).toBe("json");
    } finally {
      process.stdout.isTTY = was;
    }
  });
});
