import { rm } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { runReaches, startTestServer, type TestServer } from "../testing/harness.js";

/** security.md F10 (PoC 09): a report whose file is gone from disk is a 404, and the server carries on. */
let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close({ stopInstances: true }));

describe("a report whose file is gone", () => {
  it("answers 404 naming it, and the server stays up", async () => {
    const yaml = "kind: image\ntargets:\n  report: |\n    #!/bin/sh\n    echo hi > $SLIPSTREAM_REPORT_DIR/hi.txt\n";
    expect((await s.api("POST", "/api/modules/import", { files: [{ path: "t/tiny", yaml }] })).status).toBe(200);
    const run = (await s.api<RunDetail>("POST", "/api/runs", { module: "t/tiny", keepRunning: "never" })).body;
    await runReaches(s, run.id, "Done");
    const { reports } = (await s.api<{ reports: { name: string }[] }>("GET", `/api/runs/${run.id}/reports`)).body;
    const name = reports.find((r) => r.name.startsWith("machine.1_report_"))?.name as string;
    await rm(path.join(s.dataDir, "reports", run.id, name));
    const res = await s.api<{ error: { code: string; message: string } }>("GET", `/api/runs/${run.id}/reports/${name}`);
    expect(res.status).toBe(404);
    expect(res.body.error.message).toBe(`report '${name}' is no longer on disk`);
    expect((await s.api("GET", "/api/health")).status).toBe(200);
  });
});
