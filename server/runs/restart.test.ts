import type { ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { freePort } from "../testing/free-port.js";
import { signedInApi, startServerProcess } from "../testing/server-process.js";
import { RunWatcher } from "../testing/watch.js";

const PASSWORD = "restart-test-password";
let child: ChildProcess | null = null;
let watcher: RunWatcher | null = null;

afterEach(async () => {
  watcher?.close();
  child?.kill("SIGKILL");
});

/** Starts the real server process and resolves once it says it is serving. */
const startProcess = async (port: number, dataDir: string): Promise<ChildProcess> =>
  (await startServerProcess(port, dataDir, { SLIPSTREAM_ADMIN_PASSWORD: PASSWORD })).p;

describe("restart", () => {
  it("kill -9 while clients are blocked in ss-get: agents reconnect, the wait is answered, the run ends Done with nothing lost or duplicated", async () => {
    const port = await freePort();
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-restart-"));
    const url = `http://127.0.0.1:${port}`;
    child = await startProcess(port, dataDir);
    const { token, api } = await signedInApi(url, "admin", PASSWORD);
    const report = "  report: |\n    #!/bin/sh -x\n    echo ok > $SLIPSTREAM_REPORT_DIR/ok.txt\n";
    const imported = await api("POST", "/api/modules/import", {
      files: [
        {
          path: "t/gated",
          yaml: `kind: image\nparameters:\n  - { name: go, category: output }\n  - { name: ready, category: output }\ntargets:\n  execute: |\n    #!/bin/sh -xe\n    ss-get --timeout 0 go\n    ss-set ready true\n${report}`,
        },
        {
          path: "t/waiting",
          yaml: `kind: image\nparameters:\n  - { name: server.ready, category: input }\ntargets:\n  execute: |\n    #!/bin/sh -xe\n    ss-get --timeout 0 server.ready\n    ss-display "saw ready"\n${report}`,
        },
        {
          path: "t/system",
          yaml: "kind: deployment\nnodes:\n  server: { image: gated }\n  client: { image: waiting, multiplicity: 2, mappings: { server.ready: 'server:ready' } }\n",
        },
      ],
    });
    expect(imported.status, JSON.stringify(imported.body)).toBe(200);
    const run = (await api<RunDetail>("POST", "/api/runs", { module: "t/system", keepRunning: "never" })).body;
    watcher = new RunWatcher(url, token, run.id);
    const blocked = (i: string) =>
      watcher!.until(
        (e) =>
          e.body.type === "log" && e.body.instance === i && e.body.data.includes("ss-get --timeout 0 server.ready"),
      );
    await Promise.all([blocked("client.1"), blocked("client.2")]);

    child.kill("SIGKILL");
    await new Promise((r) => child!.once("exit", r));
    child = await startProcess(port, dataDir);

    // the pending waits are answered by the restarted server once the value is set
    const set = await api("PUT", `/api/runs/${run.id}/params/server.1:go`, { value: "now" });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    await watcher.until((e) => e.body.type === "state" && ["Done", "Aborted", "Cancelled"].includes(e.body.to));
    const detail = (await api<RunDetail>("GET", `/api/runs/${run.id}`)).body;
    expect(detail.state).toBe("Done");

    const all = (
      await api<{ events: { seq: number; body: { type: string; key?: string; to?: string } }[] }>(
        "GET",
        `/api/runs/${run.id}/events?limit=10000`,
      )
    ).body.events;
    expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1));
    expect(watcher.events.map((e) => e.seq)).toEqual(all.map((e) => e.seq));
    const setsOf = (key: string) => all.filter((e) => e.body.type === "param" && e.body.key === key).length;
    expect(setsOf("server.1:ready")).toBe(1);
    expect(setsOf("client.1:statecustom")).toBe(1);
    expect(setsOf("client.2:statecustom")).toBe(1);
    expect(all.flatMap((e) => (e.body.type === "state" ? [e.body.to] : []))).toEqual([
      "Initializing",
      "Provisioning",
      "Executing",
      "SendingReports",
      "Ready",
      "Finalizing",
      "Done",
    ]);
  });
});
