import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../../protocol/run.js";
import { runEnds, startTestServer, type TestServer } from "../../testing/harness.js";
import { HOLDING_IMAGE } from "../../testing/holding-image.js";
import { RunWatcher } from "../../testing/watch.js";

/**
 * The `enter` login of a local instance (launch.ts enterScript: debug commands, a person's shell) joins the
 * instance's control groups before entering its machine, as the instance's recipes do: what is started there is
 * held to the instance's memory and process limits, not the server's.
 */

const run = promisify(execFile);

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ killGraceSeconds: 2 });
});
afterAll(() => s.close({ stopInstances: true }));

describe("enter, the login of a local instance", () => {
  it.runIf(process.getuid?.() === 0)(
    "a command run through enter is in the instance's control groups, as its recipes are",
    async () => {
      if (!s.isolation.summary.includes("per instance (cgroup")) {
        console.log(`no cgroups for instances here: ${s.isolation.summary}`);
        return;
      }
      const imported = await s.api("POST", "/api/modules/import", { files: [{ path: "t/hold", yaml: HOLDING_IMAGE }] });
      expect(imported.status, JSON.stringify(imported.body)).toBe(200);
      const created = await s.api<RunDetail>("POST", "/api/runs", { module: "t/hold", keepRunning: "never" });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const runId = created.body.id;
      const watcher = new RunWatcher(s.url, s.token, runId);
      try {
        await watcher.until(
          (e) => e.body.type === "param" && e.body.key === "machine.1:statecustom" && e.body.value === "holding",
        );
        const enter = path.join(s.dataDir, "instances", runId, "machine.1", "enter");
        const { stdout } = await run(enter, ["cat", "/proc/self/cgroup"]);
        const group = `slipstream/${runId}_machine.1`;
        // v1: the memory and pids hierarchies, where the limits are; else v2's single unified line
        const lines = stdout.split("\n").filter(Boolean);
        const v1 = lines.filter((l) => /^\d+:(memory|pids):/.test(l));
        const limited = v1.length > 0 ? v1 : lines.filter((l) => l.startsWith("0::"));
        expect(limited.length, stdout).toBeGreaterThan(0);
        for (const l of limited) expect(l, stdout).toContain(group);
        const set = await s.api("PUT", `/api/runs/${runId}/params/machine.1:release`, { value: "go" });
        expect(set.status, JSON.stringify(set.body)).toBe(200);
        expect((await runEnds(s, runId)).state).toBe("Done");
      } finally {
        watcher.close();
      }
    },
    60_000,
  );
});
