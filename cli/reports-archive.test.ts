import fs from "node:fs/promises";
import path from "node:path";
import { list } from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../protocol/run.js";
import { PeerCloud, startTestServer, type TestServer } from "../server/testing/harness.js";
import { tgzOf } from "../server/testing/reports.js";
import { type CliEnv, cli, tempDir } from "./testing.js";

/** `slipstream reports RUN --archive FILE`: every report of a run as one tarball. */
let s: TestServer;
const cloud = new PeerCloud();
let env: CliEnv;
beforeAll(async () => {
  s = await startTestServer({ connectors: new Map([["peer", cloud]]) });
  env = { url: s.url, configDir: await tempDir("cfg"), token: s.token };
});
afterAll(() => s.close());

describe("reports --archive", () => {
  it("downloads one tarball holding every report; --out or --archive, one of them", async () => {
    const run = await s.api<RunDetail>("POST", "/api/runs", {
      module: "examples/tutorials/service-testing/apache",
      clouds: { machine: "peer" },
    });
    expect(run.status).toBe(201);
    const { token } = await cloud.launched("machine.1");
    for (const name of ["machine.1_report_a.tgz", "machine.1_report_b.tgz"]) {
      const res = await fetch(`${s.url}/api/agent/reports?name=${name}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body: await tgzOf(2000),
      });
      expect(res.status).toBe(201);
    }
    const file = path.join(await tempDir("archive"), "sub", "all.tgz");
    const res = await cli(["reports", run.body.id, "--archive", file], env);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`every report of ${run.body.id} → ${file}`);
    const names: string[] = [];
    await list({ file, onReadEntry: (e) => names.push(e.path) });
    expect(names.sort()).toEqual([`${run.body.id}/machine.1_report_a.tgz`, `${run.body.id}/machine.1_report_b.tgz`]);
    expect((await fs.stat(file)).size).toBeGreaterThan(2000);

    for (const args of [[], ["--out", "x", "--archive", "y"]]) {
      const bad = await cli(["reports", run.body.id, ...args], env);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("give --out DIR or --archive FILE");
    }
    // a run without reports: the server's 404, said as such
    const none = await cli(["reports", "00000000-0000-0000-0000-000000000000", "--archive", file], env);
    expect(none.code).not.toBe(0);
  });
});
