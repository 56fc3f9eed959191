import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LogSink } from "./log-sink.js";
import { ScriptRunner } from "./script-runner.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "ss-runner-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("script runner and the abort flag", () => {
  it("does not start an abortable script once the run is aborted; report-like scripts still run", async () => {
    let aborted = false;
    const chunks: string[] = [];
    const log = new LogSink(path.join(dir, "log"), (c) => chunks.push(c.data));
    const runner = new ScriptRunner(
      dir,
      dir,
      () => process.env,
      log,
      1000,
      () => aborted,
    );
    const script = await runner.writeTarget("execute", `#!/bin/sh\ntouch "${dir}/ran-$1"`);

    expect((await runner.run("execute", [script, "before"], { abortable: true })).code).toBe(0);
    expect(existsSync(path.join(dir, "ran-before"))).toBe(true);

    // the abort arrived while the script's file was being written: the spawn must not happen
    aborted = true;
    const skipped = await runner.run("execute", [script, "after"], { abortable: true });
    expect(skipped).toMatchObject({ killed: true, code: null });
    expect(existsSync(path.join(dir, "ran-after"))).toBe(false);

    expect((await runner.run("report", [script, "report"], { abortable: false })).code).toBe(0);
    expect(existsSync(path.join(dir, "ran-report"))).toBe(true);
    await log.close();
    expect(await readFile(path.join(dir, "log"), "utf8")).toContain("Run aborted: not starting execute");
  });
});
