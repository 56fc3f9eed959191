import { describe, expect, it } from "vitest";
import { AsciicastRecorder } from "./asciicast.js";

const parse = (text: string) =>
  text
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l));

describe("asciicast v2 recording", () => {
  it("a header line, then [t, kind, data] lines in order, times rising from 0", async () => {
    const r = new AsciicastRecorder({ cols: 80, rows: 24, title: "box.1" }, 1 << 20);
    r.output("$ ");
    await new Promise((resolve) => setTimeout(resolve, 20));
    r.resize(100, 30);
    r.output('echo "hi"\r\nhi\r\n');
    const [header, ...lines] = parse(r.text());
    expect(header).toMatchObject({ version: 2, width: 80, height: 24, title: "box.1" });
    expect(typeof header.timestamp).toBe("number");
    expect(lines.map((l) => [l[1], l[2]])).toEqual([
      ["o", "$ "],
      ["r", "100x30"],
      ["o", 'echo "hi"\r\nhi\r\n'],
    ]);
    expect(lines[0][0]).toBeGreaterThanOrEqual(0);
    expect(lines[1][0]).toBeGreaterThan(lines[0][0]);
  });

  it("stops at its byte limit with a last line that says so; output after it is not kept", () => {
    const r = new AsciicastRecorder({ cols: 80, rows: 24, title: "t" }, 1000);
    for (let i = 0; i < 50; i++) r.output(`line ${i} ${"x".repeat(40)}\r\n`);
    const lines = parse(r.text()).slice(1);
    expect(lines.at(-1)?.[2]).toContain("recording stopped at 1000 bytes");
    expect(lines.length).toBeLessThan(50);
    expect(r.text().length).toBeLessThan(1400);
  });
});
