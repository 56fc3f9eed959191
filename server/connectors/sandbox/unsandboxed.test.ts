import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../../protocol/run.js";
import { addMember } from "../../http/team-fixtures.js";
import { startTestServer, type TestServer } from "../../testing/harness.js";
import { RunWatcher } from "../../testing/watch.js";

const SYSTEM = "examples/tutorials/service-testing/system";

/** A machine that cannot sandbox (here: bubblewrap missing) never runs a member's recipe as the server's user. */
let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ local: { bwrap: "/nonexistent/bwrap" } });
});
afterAll(() => s.close({ stopInstances: true }));

describe("the local cloud where the machine cannot sandbox", () => {
  it("says so and what to install, in the line npm start prints", () => {
    expect(s.isolation.sandboxed).toBe(false);
    expect(s.isolation.summary).toBe(
      "local cloud: NOT sandboxed (bubblewrap not found (/nonexistent/bwrap); install it: apt-get install bubblewrap): open to admins only",
    );
  });

  it("refuses a member's run on it, naming the node's cloud and why, and creates nothing", async () => {
    const bob = await addMember(s, "bob");
    const runsBefore = (await s.api<{ runs: unknown[] }>("GET", "/api/runs")).body.runs.length;
    const res = await s.api<{ error: { code: string; message: string } }>(
      "POST",
      "/api/runs",
      { module: SYSTEM },
      bob.token,
    );
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe("FORBIDDEN");
    expect(res.body.error.message).toMatch(
      /^clouds\.apache: the local cloud is open to admins only on this server: its machines are not sandboxed \(bubblewrap not found/,
    );
    expect((await s.api<{ runs: unknown[] }>("GET", "/api/runs")).body.runs.length).toBe(runsBefore);
  });

  it("tells a member in the Run… dialog's options, and an admin can still run the tutorial", async () => {
    const carol = await addMember(s, "carol");
    const options = await s.api<{ clouds: string[]; unavailable: Record<string, string> }>(
      "GET",
      `/api/run-options?module=${encodeURIComponent(SYSTEM)}`,
      undefined,
      carol.token,
    );
    expect(options.body.clouds).toContain("local");
    expect(options.body.unavailable.local).toMatch(/open to admins only.*bubblewrap not found/);
    const mine = await s.api<{ unavailable: Record<string, string> }>(
      "GET",
      `/api/run-options?module=${encodeURIComponent(SYSTEM)}`,
    );
    expect(mine.body.unavailable).toEqual({});
    const run = await s.api<RunDetail>("POST", "/api/runs", { module: SYSTEM, keepRunning: "never" });
    expect(run.status, JSON.stringify(run.body)).toBe(201);
    // it runs to its end here: a server closed while its machines are still starting would leave their agents up
    const w = new RunWatcher(s.url, s.token, run.body.id);
    try {
      expect((await w.ended()).body).toMatchObject({ to: "Done" });
    } finally {
      w.close();
    }
  });
});
