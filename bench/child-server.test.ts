import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { serverGoesWithItsBench } from "./bench-exit.js";

const here = path.dirname(fileURLToPath(import.meta.url));

describe("a bench's own server (startChildServer)", () => {
  it("goes with a bench that exits without stopping it", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "ss-bench-child-"));
    // stop() never called; the server stops on its own SIGTERM, as it does when an operator stops it
    const { gone } = await serverGoesWithItsBench(
      `const { startChildServer } = await import(${JSON.stringify(path.join(here, "local-runs.ts"))});
       const s = await startChildServer(${JSON.stringify(dataDir)}, false);
       console.log(JSON.stringify({ port: Number(new URL(s.url).port), pid: s.pid }));
       process.stdin.once("data", () => process.exit(0));`,
      15_000,
    );
    fs.rmSync(dataDir, { recursive: true, force: true });
    expect(gone, "the server still runs after its bench exited").toBe(true);
  }, 60_000);
});
