import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchHere, setLauncher } from "./launch.js";
import { LogSink } from "./log-sink.js";
import { ScriptRunner } from "./script-runner.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "ss-runner-launch-"));
});
afterAll(async () => {
  setLauncher(launchHere);
  await rm(dir, { recursive: true, force: true });
});

describe("a script stopped while it is being started", () => {
  it("gets its TERM once it is started, and is in the abort's receipt", async () => {
    // a launch that takes its time, as one queued at a host's spawner behind a launch's 500 others
    let release!: () => void;
    const queued = new Promise<void>((r) => {
      release = r;
    });
    let asked!: () => void;
    const launching = new Promise<void>((r) => {
      asked = r;
    });
    setLauncher(async (argv, opts) => {
      asked();
      await queued;
      return launchHere(argv, opts);
    });
    const log = new LogSink(path.join(dir, "log"), () => undefined);
    const runner = new ScriptRunner(dir, dir, () => process.env, log, 5000);
    const script = await runner.writeTarget("execute", "#!/bin/sh\nexec sleep 1000");
    const result = runner.run("execute", [script], { abortable: true });
    await launching;

    const watch = runner.watchAbortable();
    expect(watch).toHaveLength(1);
    expect(runner.hasAbortable).toBe(true);
    expect(runner.killAbortable()).toBe(1);
    release();
    expect(await result).toMatchObject({ killed: true, code: null, signal: "SIGTERM" });
    const stop = await watch[0].exited;
    expect(stop).toMatchObject({ target: "execute", signals: ["TERM"], exitCode: null, exitSignal: "SIGTERM" });
    expect(stop?.pid).toBeGreaterThan(0);
    await log.close();
  });

  it("is left out of the receipt when it could not be started after all", async () => {
    let release!: () => void;
    const queued = new Promise<void>((r) => {
      release = r;
    });
    setLauncher(async (argv, opts) => {
      await queued;
      return launchHere(argv, opts);
    });
    const log = new LogSink(path.join(dir, "log2"), () => undefined);
    const runner = new ScriptRunner(dir, dir, () => process.env, log, 5000);
    const result = runner.run("execute", [path.join(dir, "missing")], { abortable: true });
    const watch = runner.watchAbortable();
    expect(runner.killAbortable()).toBe(1);
    release();
    expect(await result).toMatchObject({ code: 127, spawnError: expect.stringContaining("ENOENT") });
    expect(await watch[0].exited).toBeNull();
    expect(await watch[0].graceOver).toEqual(["TERM"]);
    await log.close();
  });
});
