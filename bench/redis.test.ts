import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { serverGoesWithItsBench } from "./bench-exit.js";

const here = path.dirname(fileURLToPath(import.meta.url));

describe("the benches' Redis", () => {
  it("goes with a bench that exits without stopping it", async () => {
    // stop() never called
    const { gone, started } = await serverGoesWithItsBench<{ port: number; pid: number; unixSocket: string }>(
      `const { startRedis } = await import(${JSON.stringify(path.join(here, "lib.ts"))});
       const r = await startRedis();
       console.log(JSON.stringify({ port: r.port, pid: r.proc.pid, unixSocket: r.unixSocket }));
       process.stdin.once("data", () => process.exit(0));`,
      5_000,
    );
    if (!gone) fs.rmSync(path.dirname(started.unixSocket), { recursive: true, force: true });
    expect(gone, "Redis still answers after its bench exited").toBe(true);
    expect(fs.existsSync(path.dirname(started.unixSocket))).toBe(false);
  }, 30_000);
});
