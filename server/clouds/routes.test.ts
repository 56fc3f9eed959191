import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../testing/harness.js";

let s: TestServer;
let memberToken: string;
const PASSWORD = "pool-password-not-to-leak";

beforeAll(async () => {
  s = await startTestServer();
  await s.api("POST", "/api/users", {
    username: "mia",
    displayName: "Mia",
    role: "member",
    password: "mia-password-1",
  });
  const login = await s.api<{ token: string }>(
    "POST",
    "/api/auth/login",
    { username: "mia", password: "mia-password-1" },
    null,
  );
  memberToken = login.body.token;
});
afterAll(async () => {
  await s.close();
});

describe("/api/clouds over HTTP", () => {
  it("an admin defines an ssh pool; its password is never returned; the cloud becomes runnable", async () => {
    const created = await s.api("POST", "/api/clouds", {
      name: "lab",
      kind: "ssh",
      hosts: [{ address: "10.213.99.2", port: 22, username: "tester", password: PASSWORD, maxInstances: 2 }],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const list = await s.api<{ clouds: { name: string }[] }>("GET", "/api/clouds", undefined, memberToken);
    expect(list.status).toBe(200);
    expect(list.body.clouds.map((c) => c.name)).toContain("lab");
    for (const body of [created.body, list.body]) expect(JSON.stringify(body)).not.toContain(PASSWORD);
    expect(JSON.stringify(list.body)).toContain('"hasPassword":true');
    const opts = await s.api<{ clouds: string[] }>(
      "GET",
      "/api/run-options?module=examples/tutorials/service-testing/system",
    );
    expect(opts.body.clouds).toEqual(expect.arrayContaining(["local", "lab"]));
    // at rest it is sealed
    const row = s.app.db.$client.prepare("select config from clouds where name = 'lab'").get() as { config: string };
    expect(row.config).not.toContain(PASSWORD);
  });

  it("a member may not define or delete clouds, and nothing changes", async () => {
    const before = (await s.api<{ clouds: unknown[] }>("GET", "/api/clouds")).body.clouds.length;
    const res = await s.api(
      "POST",
      "/api/clouds",
      {
        name: "mine",
        kind: "ssh",
        hosts: [{ address: "10.213.99.3", username: "x", password: "longpassword", maxInstances: 1 }],
      },
      memberToken,
    );
    expect(res.status).toBe(403);
    expect((await s.api("DELETE", "/api/clouds/lab", undefined, memberToken)).status).toBe(403);
    expect((await s.api<{ clouds: unknown[] }>("GET", "/api/clouds")).body.clouds.length).toBe(before);
  });

  it("bad definitions are refused naming the field", async () => {
    const res = await s.api<{ error: { message: string } }>("POST", "/api/clouds", {
      name: "bad",
      kind: "ssh",
      hosts: [{ address: "10.213.99.4", username: "x", maxInstances: 0 }],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/hosts\.0/);
  });
});
