import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail, RunSummary } from "../protocol/run.js";
import { addMember } from "../server/http/team-fixtures.js";
import { PeerCloud, startTestServer, type TestServer } from "../server/testing/harness.js";
import { type CliEnv, cli, tempDir } from "./testing.js";

/** `slipstream runs --state S --owner U --limit N`. */
let s: TestServer;
let env: CliEnv;
beforeAll(async () => {
  s = await startTestServer({ connectors: new Map([["peer", new PeerCloud()]]) });
  env = { url: s.url, configDir: await tempDir("cfg"), token: s.token };
});
afterAll(() => s.close());

describe("runs", () => {
  it("filters by state (or active) and owner and pages with --limit; a bad state is the server's refusal", async () => {
    const bob = await addMember(s, "bob");
    const made: string[] = [];
    for (const token of [s.token, bob.token, bob.token]) {
      const res = await s.api<RunDetail>(
        "POST",
        "/api/runs",
        { module: "examples/tutorials/service-testing/apache", clouds: { machine: "peer" }, tags: ["cli-list"] },
        token,
      );
      expect(res.status).toBe(201);
      made.unshift(res.body.id);
    }
    const json = async (args: string[]) => {
      const res = await cli(["runs", "--json", "--tag", "cli-list", ...args], env);
      expect(res.code, res.stderr).toBe(0);
      return JSON.parse(res.stdout) as { runs: RunSummary[]; more: boolean };
    };
    expect((await json(["--owner", "bob"])).runs.map((r) => r.id)).toEqual(made.slice(0, 2));
    expect((await json(["--active"])).runs.map((r) => r.id)).toEqual(made);
    expect((await json(["--state", "Done"])).runs).toEqual([]);
    const page = await json(["--limit", "1"]);
    expect(page.runs.map((r) => r.id)).toEqual([made[0]]);
    expect(page.more).toBe(true);

    const table = await cli(["runs", "--tag", "cli-list", "--limit", "2"], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain("… more runs; --limit shows more");

    const bad = await cli(["runs", "--state", "Sleeping"], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("state");
    const both = await cli(["runs", "--active", "--state", "Done"], env);
    expect(both.code).toBe(2);
  });
});
