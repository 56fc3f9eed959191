import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IDLE_EXIT_MS } from "../../agent/host.js";
import type { HostInstance } from "../../protocol/local-host.js";
import { HOST_SOCKET_ENV } from "../../protocol/local-host.js";
import { buildAgentBundle } from "../../scripts/build-agent.js";
import { hostRequest, LIST_TIMEOUT_MS, RunHosts } from "./local-host.js";

/**
 * A run's agent host that was stopped (SIGSTOP, as e2e/fixtures.ts holdMachines does) or starved past its idle time
 * between saying it listens and reading the connector's first add. On resuming, its idle timer fires before it reads
 * the socket: the add still queued there must be refused (no answer: the connector starts the run's host anew),
 * never answered "the host is ending", which failed the instance's start.
 */

let root: string;
let hostScript: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "ss-lhost-stall-"));
  hostScript = (await buildAgentBundle(path.join(root, "bundle"))).host;
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** A host as the connector starts it: resolves once it said it listens. */
async function startHost(socketPath: string): Promise<ChildProcess> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", [HOST_SOCKET_ENV]: socketPath };
  const child = spawn(process.execPath, [hostScript], {
    cwd: path.dirname(socketPath),
    env: env as NodeJS.ProcessEnv,
    stdio: ["ignore", "inherit", "inherit", "pipe"],
  });
  await new Promise<void>((resolve, reject) => {
    let said = "";
    (child.stdio[3] as Readable).setEncoding("utf8").on("data", (d: string) => {
      said += d;
      if (said.includes("ready\n")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`the host ended at start (exit ${code})`)));
  });
  return child;
}

describe("a run's agent host stalled past its idle time", () => {
  it("refuses the request queued meanwhile instead of answering it is ending, then ends", async () => {
    const runDir = await mkdtemp(path.join(root, "run-"));
    const socketPath = path.join(runDir, "host.sock");
    const host = await startHost(socketPath);
    const exited = new Promise<number | null>((resolve) => host.once("exit", resolve));
    try {
      process.kill(host.pid!, "SIGSTOP");
      await sleep(IDLE_EXIT_MS + 500);
      // connected and written while the host is stopped: the request waits on its socket
      const answer = hostRequest(socketPath, { op: "list" }, 10_000);
      await sleep(200);
      process.kill(host.pid!, "SIGCONT");
      expect(await answer).toBeNull();
      expect(await exited).toBe(0);
    } finally {
      host.kill("SIGKILL");
    }
  }, 30_000);

  it("a host resumed within its idle time answers what was queued", async () => {
    const runDir = await mkdtemp(path.join(root, "run-"));
    const socketPath = path.join(runDir, "host.sock");
    const host = await startHost(socketPath);
    try {
      process.kill(host.pid!, "SIGSTOP");
      const answer = hostRequest(socketPath, { op: "list" }, 10_000);
      await sleep(200);
      process.kill(host.pid!, "SIGCONT");
      expect(await answer).toMatchObject({ ok: true, pid: host.pid, instances: [] });
    } finally {
      host.kill("SIGKILL");
    }
  }, 30_000);

  it(
    "a host alive but not answering is not replaced by a second one on its socket: the start fails, naming it",
    async () => {
      const runDir = await mkdtemp(path.join(root, "run-"));
      const socketPath = path.join(runDir, "host.sock");
      const host = await startHost(socketPath);
      const hosts = new RunHosts(hostScript);
      try {
        const socketBefore = (await stat(socketPath)).ino;
        process.kill(host.pid!, "SIGSTOP");
        // never sent: the host was not found answering
        const started = hosts.add(runDir, { instance: "node.1" } as HostInstance);
        await expect(started).rejects.toThrow(/did not answer list/);
        // no second host bound the run's socket meanwhile
        expect((await stat(socketPath)).ino).toBe(socketBefore);
      } finally {
        host.kill("SIGKILL");
      }
    },
    LIST_TIMEOUT_MS + 20_000,
  );

  it("a host that never says it listens is killed after the start's deadline, and the start fails naming it", async () => {
    const runDir = await mkdtemp(path.join(root, "run-"));
    const mute = path.join(root, "mute-host.mjs");
    await writeFile(mute, "setInterval(() => {}, 1000);\n");
    const hosts = new RunHosts(mute, 1500);
    const started = hosts.add(runDir, { instance: "node.1" } as HostInstance);
    await expect(started).rejects.toThrow(/did not start in 1.5 s/);
    // nothing of it is left running
    const left = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).split("\n");
    expect(left.filter((a) => a.includes(mute))).toEqual([]);
  }, 20_000);
});
