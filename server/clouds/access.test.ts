import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { addMember } from "../http/team-fixtures.js";
import { startTestServer, type TestServer } from "../testing/harness.js";

const APACHE = "examples/tutorials/service-testing/apache";
let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.close({ stopInstances: true }));

describe("who may use a cloud", () => {
  it("the local cloud is open to every member by default; an admin narrows it to some users, and the others are told why", async () => {
    const bob = await addMember(s, "bob");
    const carol = await addMember(s, "carol");
    expect((await s.api("GET", "/api/clouds/local/access", undefined, carol.token)).body).toEqual({
      cloud: "local",
      roles: ["admin", "member"],
      users: [],
      installKeys: true,
      default: true,
    });
    const set = await s.api("PUT", "/api/clouds/local/access", { roles: ["admin"], users: ["bob"] });
    expect(set.status).toBe(200);

    const refused = await s.api<{ error: { code: string; message: string } }>(
      "POST",
      "/api/runs",
      { module: APACHE, keepRunning: "never" },
      carol.token,
    );
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toBe(
      "clouds.machine: the cloud 'local' is not open to you: an admin decides who may use it (PUT /api/clouds/local/access)",
    );
    const options = await s.api<{ unavailable: Record<string, string> }>(
      "GET",
      `/api/run-options?module=${encodeURIComponent(APACHE)}`,
      undefined,
      carol.token,
    );
    expect(options.body.unavailable.local).toMatch(/not open to you/);

    const allowed = await s.api<RunDetail>("POST", "/api/runs", { module: APACHE, keepRunning: "never" }, bob.token);
    expect(allowed.status, JSON.stringify(allowed.body)).toBe(201);
    await s.api("POST", `/api/runs/${allowed.body.id}/terminate`, undefined, bob.token);
  });

  it("refuses what cannot be: an unknown user (named at its field), an unknown cloud, a member deciding", async () => {
    const dave = await addMember(s, "dave");
    const badUser = await s.api<{ error: { message: string } }>("PUT", "/api/clouds/local/access", {
      users: ["nobody-here"],
    });
    expect(badUser.status).toBe(400);
    expect(badUser.body.error.message).toBe("users.0: no user 'nobody-here'");
    expect((await s.api("PUT", "/api/clouds/nowhere/access", { roles: ["member"] })).status).toBe(404);
    expect((await s.api("GET", "/api/clouds/nowhere/access")).status).toBe(404);
    const badRole = await s.api<{ error: { message: string } }>("PUT", "/api/clouds/local/access", { roles: ["root"] });
    expect(badRole.status).toBe(400);
    expect(badRole.body.error.message).toMatch(/roles/);
    expect((await s.api("PUT", "/api/clouds/local/access", { roles: ["member"] }, dave.token)).status).toBe(403);
  });
});
