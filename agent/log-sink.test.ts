import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LogSink } from "./log-sink.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "ss-log-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("the instance log", () => {
  it("coalesces one stream's writes and keeps the order of writes across streams", async () => {
    const chunks: { chunk: number; stream: string; data: string }[] = [];
    const log = new LogSink(path.join(dir, "a.log"), (c) =>
      chunks.push({ chunk: c.chunk, stream: c.stream, data: c.data }),
    );
    log.write("execute", "stderr", "+ wget\n");
    log.write("execute", "stderr", "+ ss-set ready true\n");
    log.write("execute", "stdout", "downloaded\n");
    log.write("execute", "stderr", "+ ss-display done\n");
    log.agent("Target execute finished: exit code 0");
    await log.close();
    expect(chunks.map((c) => c.data).join("")).toBe(
      "+ wget\n+ ss-set ready true\ndownloaded\n+ ss-display done\n[agent] Target execute finished: exit code 0\n",
    );
    expect(chunks.map((c) => c.stream)).toEqual(["stderr", "stdout", "stderr", "agent"]);
    expect(chunks.map((c) => c.chunk)).toEqual([1, 2, 3, 4]);
    expect(await readFile(path.join(dir, "a.log"), "utf8")).toBe(chunks.map((c) => c.data).join(""));
  });

  it("an agent started again numbers its chunks on after the last one the server stored", async () => {
    const numbers: number[] = [];
    const log = new LogSink(path.join(dir, "b.log"), (c) => numbers.push(c.chunk));
    log.resumeAfter(7);
    log.agent("started again");
    await log.close();
    const again = new LogSink(path.join(dir, "c.log"), (c) => numbers.push(c.chunk));
    again.agent("one");
    again.agent("two");
    await new Promise((r) => setTimeout(r, 80));
    // a reconnect of the same process is already past what the server stored: its counter stays
    again.resumeAfter(1);
    again.agent("three");
    await again.close();
    expect(numbers).toEqual([8, 1, 2]);
  });
});
