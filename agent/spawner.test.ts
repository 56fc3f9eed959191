import { spawn } from "node:child_process";
import { once } from "node:events";
import { createReadStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Launched } from "./launch.js";
import { Spawner } from "./spawner.js";

const SPAWNER_MAIN = path.join(import.meta.dirname, "spawner-main.ts");
const COMMAND = [process.execPath, "--import", "tsx", SPAWNER_MAIN];
const ENV = { PATH: process.env.PATH ?? "/usr/bin:/bin" };

let dir: string;
let spawner: Spawner;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "ss-spawner-test-"));
  spawner = await Spawner.start(COMMAND);
});
afterAll(async () => {
  spawner.close();
  await rm(dir, { recursive: true, force: true });
});

function collect(stream: Readable | null | undefined): Promise<string> {
  let text = "";
  stream?.setEncoding("utf8").on("data", (d: string) => {
    text += d;
  });
  return new Promise((resolve) => stream?.once("end", () => resolve(text)));
}

function ended(child: Launched): Promise<[number | null, NodeJS.Signals | null]> {
  return once(child, "close") as Promise<[number | null, NodeJS.Signals | null]>;
}

/** A fifo the test reads: its 'end' says every process that opened it for writing (the machine's) is gone. */
async function fifo(name: string): Promise<{ path: string; gone: Promise<void> }> {
  const p = path.join(dir, name);
  await new Promise<void>((resolve, reject) =>
    spawn("mkfifo", [p]).once("exit", (c) => (c === 0 ? resolve() : reject(new Error("mkfifo")))),
  );
  const reader = createReadStream(p);
  reader.resume();
  return { path: p, gone: once(reader, "end").then(() => undefined) };
}

/**
 * A machine as Machine.start makes one: bubblewrap dying with its parent, a fd kept on `fifoPath` by its process; it
 * says "ready" once bubblewrap runs (before, its parent's death would not be its own).
 */
const machineArgv = (fifoPath: string) => [
  "sh",
  "-c",
  `exec bwrap --die-with-parent --dev-bind / / sh -c 'echo ready; exec sleep 1000' 9>'${fifoPath}'`,
];

describe("the agent host's spawner", () => {
  it("delivers a child's output complete and in order while the reader pauses, and its exit code", async () => {
    // 5 MB of numbered lines on stdout with pauses, and stderr between them
    const script = `
      let i = 0;
      const next = () => {
        let chunk = "";
        for (let n = 0; n < 6250 && i < 625000; n++) chunk += String(i++).padStart(7, "0") + "\\n";
        process.stdout.write(chunk, () => {
          if (i % 62500 === 0) process.stderr.write("at " + i + "\\n");
          if (i >= 625000) process.exit(3);
          else if (i % 125000 === 0) setTimeout(next, 30);
          else next();
        });
      };
      next();`;
    const child = await spawner.launch([process.execPath, "-e", script], { env: ENV, detached: true, pipes: 2 });
    expect(child.pid).toBeGreaterThan(0);
    let text = "";
    let pauses = 0;
    const out = child.stdout as Readable;
    out.setEncoding("utf8").on("data", (d: string) => {
      text += d;
      // a slow reader, as the log sink is when congested: the child must wait, nothing may be lost
      if (pauses < 20 && text.length > pauses * 250_000) {
        pauses++;
        out.pause();
        setTimeout(() => out.resume(), 20);
      }
    });
    const err = collect(child.stderr);
    const exit = once(child, "exit");
    const [code, signal] = await ended(child);
    expect(await exit).toEqual([3, null]);
    expect([code, signal]).toEqual([3, null]);
    expect(text.length).toBe(5_000_000);
    const lines = text.split("\n");
    expect(lines.length).toBe(625001);
    expect(lines.every((l, i) => i === 625000 || Number(l) === i)).toBe(true);
    expect((await err).trim().split("\n")).toEqual(Array.from({ length: 10 }, (_, i) => `at ${(i + 1) * 62500}`));
  });

  it("gives fd 3, reports a death by signal, and a child that cannot start as an error", async () => {
    const info = await spawner.launch(["sh", "-c", "echo info >&3; umask"], { env: ENV, detached: true, pipes: 3 });
    const closed = ended(info);
    const [fd3, out] = await Promise.all([collect(info.stdio[3]), collect(info.stdout), collect(info.stderr)]);
    // the umask a hosted agent's recipes and machine had when the host started them itself
    expect([fd3, out]).toEqual(["info\n", "0022\n"]);
    expect(await closed).toEqual([0, null]);

    const killed = await spawner.launch(["sh", "-c", "kill -TERM $$"], { env: ENV, detached: false, pipes: 2 });
    expect(await ended(killed)).toEqual([null, "SIGTERM"]);

    const missing = await spawner.launch(["/nonexistent/program"], { env: ENV, detached: true, pipes: 2 });
    expect(missing.pid).toBeUndefined();
    const [error] = (await once(missing, "error")) as [Error];
    expect(error.message).toContain("ENOENT");
  });

  it("starts a detached child in a group of its own, which the host signals itself; kill() reaches the child", async () => {
    const group = await spawner.launch(["sh", "-c", "sleep 1000 & sleep 1000; wait"], {
      env: ENV,
      detached: true,
      pipes: 2,
    });
    const pid = group.pid as number;
    // the whole group: the sleep in the background holds the pipes too, so 'close' says it is gone as well
    process.kill(-pid, "SIGTERM");
    expect(await ended(group)).toEqual([null, "SIGTERM"]);

    const one = await spawner.launch(["sleep", "1000"], { env: { ...ENV, SOME: "x" }, detached: true, pipes: 2 });
    expect(one.kill("SIGKILL")).toBe(true);
    expect(await ended(one)).toEqual([null, "SIGKILL"]);
    expect(one.kill("SIGKILL")).toBe(false);
  });

  it("goes on when its spawner is killed: the machines it started are reported killed, the next start has a new one", async () => {
    const gone = await fifo("machine-1");
    const machine = await spawner.launch(machineArgv(gone.path), { env: ENV, detached: true, pipes: 2 });
    await once((machine.stdout as Readable).setEncoding("utf8"), "data");
    const first = spawner.pid as number;
    process.kill(first, "SIGKILL");
    expect(await ended(machine)).toEqual([null, "SIGKILL"]);
    await gone.gone;

    const next = await spawner.launch(["sh", "-c", "echo again"], { env: ENV, detached: true, pipes: 2 });
    const closed = ended(next);
    expect(await collect(next.stdout)).toBe("again\n");
    expect(await closed).toEqual([0, null]);
    expect(spawner.pid).not.toBe(first);
  });

  it("a spawner that says nothing while a start waits (stopped) is killed after its stall bound: the start fails naming it, the next has a new one", async () => {
    const s = await Spawner.start(COMMAND, { stallMs: 1500 });
    try {
      const warm = await s.launch(["true"], { env: ENV, detached: true, pipes: 2 });
      expect(await ended(warm)).toEqual([0, null]);
      const stuck = s.pid as number;
      process.kill(stuck, "SIGSTOP");
      const waiting = await s.launch(["sh", "-c", "echo never"], { env: ENV, detached: true, pipes: 2 });
      const [err] = (await once(waiting, "error")) as [Error];
      expect(waiting.pid).toBeUndefined();
      expect(err.message).toMatch(/spawner said nothing for 1\.5 s and was killed/);
      const next = await s.launch(["sh", "-c", "echo again"], { env: ENV, detached: true, pipes: 2 });
      expect(await collect(next.stdout)).toBe("again\n");
      expect(s.pid).not.toBe(stuck);
    } finally {
      s.close();
    }
  });

  it("ends with its host, killed, and the host's machines with it", async () => {
    const gone = await fifo("machine-2");
    const host = path.join(dir, "host.mts");
    await writeFile(
      host,
      `import { Spawner } from ${JSON.stringify(path.join(import.meta.dirname, "spawner.ts"))};
       const s = await Spawner.start(${JSON.stringify(COMMAND)});
       const c = await s.launch(${JSON.stringify(machineArgv(gone.path))}, { env: ${JSON.stringify(ENV)}, detached: true, pipes: 2 });
       await new Promise((resolve) => c.stdout.once("data", resolve));
       process.stdout.write(JSON.stringify({ spawner: s.pid, machine: c.pid }) + "\\n");
       setInterval(() => undefined, 1 << 30);`,
    );
    const proc = spawn(process.execPath, ["--import", "tsx", host], {
      cwd: path.dirname(import.meta.dirname),
      stdio: ["ignore", "pipe", "pipe"],
    });
    // the host's stderr is its spawner's too: it closes once both are gone
    const stderrClosed = once(proc.stderr, "close");
    let said = "";
    proc.stderr.setEncoding("utf8").on("data", (d: string) => {
      said += d;
    });
    const [line] = (await once(proc.stdout.setEncoding("utf8"), "data")) as [string];
    const pids = JSON.parse(line) as { spawner: number; machine: number };
    expect(pids.spawner).toBeGreaterThan(0);
    expect(pids.machine).toBeGreaterThan(0);
    proc.kill("SIGKILL");
    await stderrClosed;
    await gone.gone;
    expect(said).toBe("");
  });
});
