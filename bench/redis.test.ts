import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const here = path.dirname(fileURLToPath(import.meta.url));

describe("the benches' Redis", () => {
  it("goes with a bench that exits without stopping it", async () => {
    // a bench process that starts Redis, says where, and exits at once when told, stop() never called
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        `const { startRedis } = await import(${JSON.stringify(path.join(here, "lib.ts"))});
         const r = await startRedis();
         console.log(JSON.stringify({ port: r.port, pid: r.proc.pid, unixSocket: r.unixSocket }));
         process.stdin.once("data", () => process.exit(0));`,
      ],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    const started = await new Promise<{ port: number; pid: number; unixSocket: string }>((resolve, reject) => {
      child.stdout.once("data", (d: Buffer) => resolve(JSON.parse(String(d))));
      child.once("exit", (code) => reject(new Error(`the bench process exited ${code} before starting Redis`)));
    });
    // a client of that Redis sees its connection end when the server is gone
    const client = net.connect(started.port, "127.0.0.1");
    await new Promise<void>((resolve) => client.once("connect", resolve));
    const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
    client.on("error", () => {});
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.stdin.write("exit\n");
    await exited;
    const gone = await Promise.race([closed.then(() => true), new Promise((r) => setTimeout(() => r(false), 5_000))]);
    client.destroy();
    if (!gone) {
      // the failure is reported, not left running
      process.kill(started.pid, "SIGKILL");
      fs.rmSync(path.dirname(started.unixSocket), { recursive: true, force: true });
    }
    expect(gone, "Redis still answers after its bench exited").toBe(true);
    expect(fs.existsSync(path.dirname(started.unixSocket))).toBe(false);
  }, 30_000);
});
