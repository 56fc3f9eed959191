import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { addMember } from "../http/team-fixtures.js";
import { startTestServer, type TestServer } from "../testing/harness.js";
import { fetchReports } from "../testing/reports.js";
import { RunWatcher } from "../testing/watch.js";

let s: TestServer;
let memberToken: string;
const PASSWORD = "pool-password-not-to-leak";

beforeAll(async () => {
  s = await startTestServer();
  memberToken = (await addMember(s, "mia")).token;
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

  it("a deleted cloud is refused at once for new runs, run options and the profile default", async () => {
    // loopback only, and never dialled: every use after the delete is refused before any connect
    const created = await s.api("POST", "/api/clouds", {
      name: "gone",
      hosts: [{ address: "127.0.0.1", port: 9, username: "nobody", password: "gone-password", maxInstances: 1 }],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((await s.api("DELETE", "/api/clouds/gone")).status).toBe(200);
    expect(s.app.connectors.has("gone")).toBe(false);
    const run = await s.api<{ error: { message: string } }>("POST", "/api/runs", {
      module: "examples/tutorials/service-testing/apache",
      clouds: { machine: "gone" },
      keepRunning: "never",
    });
    expect(run.status, JSON.stringify(run.body)).toBe(400);
    expect(run.body.error.message).toContain("clouds.machine: unknown cloud 'gone'");
    const opts = await s.api<{ clouds: string[] }>(
      "GET",
      "/api/run-options?module=examples/tutorials/service-testing/apache",
    );
    expect(opts.body.clouds).not.toContain("gone");
    const profile = (await s.api<{ profile: Record<string, unknown> }>("GET", "/api/profile")).body.profile;
    const put = await s.api<{ error: { message: string } }>("PUT", "/api/profile", {
      ...profile,
      defaultCloud: "gone",
    });
    expect(put.status).toBe(400);
    expect(put.body.error.message).toContain("defaultCloud: unknown cloud 'gone'");
    // the name is free again
    const again = await s.api("POST", "/api/clouds", {
      name: "gone",
      hosts: [{ address: "127.0.0.1", port: 9, username: "nobody", password: "gone-password", maxInstances: 1 }],
    });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
    expect((await s.api("DELETE", "/api/clouds/gone")).status).toBe(200);
  });

  it("bad definitions are refused naming the field", async () => {
    const res = await s.api<{ error: { message: string } }>("POST", "/api/clouds", {
      name: "bad",
      kind: "ssh",
      hosts: [{ address: "10.213.99.4", username: "x", maxInstances: 0 }],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/hosts\[0\]/);
    // and by path, for a form to mark its field without reading the message
    expect((res.body.error as { fields?: Record<string, string> }).fields).toEqual({
      "hosts[0]": "exactly one of privateKey and password",
      "hosts[0].maxInstances": expect.stringMatching(/>=1/),
    });
  });
});

async function closedLoopbackPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && !e.name.endsWith(".tgz")) out.push(path.join(e.parentPath, e.name));
  }
  return out;
}

describe("a run that used a cloud credential", () => {
  it("never shows the secret: not in the API, the event log or any report tarball", async () => {
    const secret = "s3cret-pool-password-XYZ";
    const port = await closedLoopbackPort(); // loopback only: nothing listens, so the start fails
    const created = await s.api("POST", "/api/clouds", {
      name: "loop",
      kind: "ssh",
      hosts: [{ address: "127.0.0.1", port, username: "nobody", password: secret, maxInstances: 1 }],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const run = await s.api<RunDetail>("POST", "/api/runs", {
      module: "examples/tutorials/service-testing/apache",
      clouds: { machine: "loop" },
      keepRunning: "never",
    });
    expect(run.status, JSON.stringify(run.body)).toBe(201);
    const w = new RunWatcher(s.url, s.token, run.body.id);
    try {
      await w.until((e) => e.body.type === "state" && e.body.to === "Aborted");
    } finally {
      w.close();
    }
    const detail = await s.api<RunDetail>("GET", `/api/runs/${run.body.id}`);
    expect(detail.body.abort).toMatch(/127\.0\.0\.1/);
    for (const p of ["", "/params", "/events?limit=10000", "/reports"]) {
      expect(JSON.stringify((await s.api("GET", `/api/runs/${run.body.id}${p}`)).body)).not.toContain(secret);
    }
    const { dir, files } = await fetchReports(s, run.body.id);
    expect(Object.keys(files).some((n) => n.startsWith("orchestrator_report_"))).toBe(true);
    for (const f of await filesUnder(dir)) expect(await fs.readFile(f, "utf8")).not.toContain(secret);
  });
});
