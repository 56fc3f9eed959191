import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../../protocol/run.js";
import { runReaches, startTestServer, type TestServer } from "../../testing/harness.js";

/** Limits an admin sets for local instances (SLIPSTREAM_LOCAL_MEMORY_MB, SLIPSTREAM_LOCAL_PIDS) hold for recipes. */
const FORKER = `kind: image
parameters:
  - { name: tasks, category: output }
  - { name: hog, category: output }
targets:
  execute: |
    #!/bin/sh
    # 200 processes asked for; those the kernel refuses fail with EAGAIN
    n=$(node -e '
      const { spawn } = require("node:child_process");
      const kids = [];
      for (let i = 0; i < 200; i++) {
        const c = spawn("sleep", ["60"]);
        c.on("error", () => undefined);
        kids.push(c);
      }
      setTimeout(() => {
        console.log(kids.filter((c) => c.pid !== undefined).length);
        for (const c of kids) c.kill();
      }, 500);
    ')
    ss-set tasks "$n"
    node -e 'const a = []; for (;;) a.push(Buffer.alloc(1 << 24, 1))' 2>/dev/null
    ss-set hog "exit $?"
`;

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ local: { limits: { memoryBytes: 256 * 2 ** 20, pids: 96 } } });
});
afterAll(() => s.close({ stopInstances: true }));

describe("limits of a local instance", () => {
  it.runIf(process.getuid?.() === 0)(
    "a fork loop stops at the process limit and a memory hog is killed at the memory limit, the run goes on",
    async () => {
      expect(s.isolation.summary).toMatch(/memory 256 MiB and 96 processes per instance \(cgroup v[12]\)/);
      expect((await s.api("POST", "/api/modules/import", { files: [{ path: "t/forker", yaml: FORKER }] })).status).toBe(
        200,
      );
      const run = (await s.api<RunDetail>("POST", "/api/runs", { module: "t/forker", keepRunning: "always" })).body;
      await runReaches(s, run.id, "Ready");
      const params = new Map(
        (
          await s.api<{ params: { key: string; value: string | null }[] }>("GET", `/api/runs/${run.id}/params`)
        ).body.params.map((p) => [p.key, p.value]),
      );
      // the agent, its machine and Node's threads count too: fewer than 96 started, far from the 200 asked
      const tasks = Number(params.get("machine.1:tasks"));
      expect(tasks).toBeGreaterThan(5);
      expect(tasks).toBeLessThan(96);
      // SIGKILLed by the kernel's OOM killer of the instance's group
      expect(params.get("machine.1:hog")).toBe("exit 137");
    },
    60_000,
  );
});
