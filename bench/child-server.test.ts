import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const here = path.dirname(fileURLToPath(import.meta.url));

describe("a bench's own server (startChildServer)", () => {
  it("goes with a bench that exits without stopping it", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ss-bench-child-"));
    // a bench process that starts a server, says where, and exits at once when told, stop() never called
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        `const { startChildServer } = await import(${JSON.stringify(path.join(here, "local-runs.ts"))});
         const s = await startChildServer(${JSON.stringify(dataDir)}, false);
         console.log(JSON.stringify({ url: s.url, pid: s.pid }));
         process.stdin.once("data", () => process.exit(0));`,
      ],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    const started = await new Promise<{ url: string; pid: number }>((resolve, reject) => {
      child.stdout.once("data", (d: Buffer) => resolve(JSON.parse(String(d))));
      child.once("exit", (code) => reject(new Error(`the bench process exited ${code} before its server served`)));
    });
    // a connection to that server ends when the server is gone
    const client = net.connect(Number(new URL(started.url).port), "127.0.0.1");
    await new Promise<void>((resolve) => client.once("connect", resolve));
    const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
    client.on("error", () => {});
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.stdin.write("exit\n");
    await exited;
    const gone = await Promise.race([closed.then(() => true), new Promise((r) => setTimeout(() => r(false), 15_000))]);
    client.destroy();
    // the failure is reported, not left running
    if (!gone) process.kill(started.pid, "SIGKILL");
    fs.rmSync(dataDir, { recursive: true, force: true });
    expect(gone, "the server still runs after its bench exited").toBe(true);
  }, 60_000);
});
