import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliEnv, cli, startCli, tempDir } from "../../cli/testing.js";
import type { RunDetail, RunEvent } from "../../protocol/run.js";
import type { LeaseState } from "../../protocol/run-lease.js";
import { runEnds, runReaches, startTestServer, type TestServer } from "../testing/harness.js";

/** Leases on the local cloud: real agents running real scripts, and the real CLI as a child process. */
let s: TestServer;
let env: CliEnv;
beforeAll(async () => {
  s = await startTestServer();
  env = { url: s.url, configDir: await tempDir("cfg"), token: s.token };
  const image = (execute: string) =>
    `kind: image\ntargets:\n  execute: |\n${execute
      .split("\n")
      .map((l) => `    ${l}`)
      .join("\n")}\n`;
  const res = await s.api("POST", "/api/modules/import", {
    files: [
      { path: "lease/forever", yaml: image("#!/bin/sh\nss-display 'working'\nsleep 600") },
      { path: "lease/eight", yaml: image("#!/bin/sh\nss-display 'working'\nsleep 8") },
    ],
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
});
afterAll(async () => {
  await s?.close({ stopInstances: true });
});

async function events(runId: string): Promise<RunEvent[]> {
  return (await s.api<{ events: RunEvent[] }>("GET", `/api/runs/${runId}/events?limit=10000`)).body.events;
}
const leaseEvents = (evs: RunEvent[]) =>
  evs.flatMap((e) => (e.body.type === "lease" ? [{ actor: e.actor, ...e.body }] : []));

describe("a run's lease", () => {
  it("a `run --wait` killed with SIGKILL has its run terminated within grace + 10 s, with the reason", async () => {
    const grace = 3;
    const proc = startCli(
      ["run", "lease/forever", "--wait", "--keep-running", "never", "--lease-grace", String(grace)],
      env,
    );
    const [, runId] = await proc.waitFor(/^Run (\S+) /m);
    await proc.waitFor(/machine\.1: working/);
    proc.child.kill("SIGKILL");
    const killedAt = Date.now();
    await proc.done;
    const end = await runEnds(s, runId);
    const took = Date.now() - killedAt;
    expect(end.state).toBe("Cancelled");
    expect(took).toBeGreaterThanOrEqual((grace - 1) * 1000);
    expect(took).toBeLessThan((grace + 10) * 1000);
    const evs = await events(runId);
    const leases = leaseEvents(evs);
    expect(leases.map((l) => l.status)).toEqual(["taken", "expired"]);
    expect(leases[1]).toMatchObject({ actor: "server", graceSeconds: grace });
    expect(leases[1].message).toMatch(/^the client holding its lease went away \d+ s ago \(grace 3 s\): terminated$/);
    // terminated the way a person's Terminate does it: the terminate event right after the reason
    const at = evs.findIndex((e) => e.body.type === "lease" && e.body.status === "expired");
    expect(evs[at + 1].body.type).toBe("terminate");
  });

  it("a heartbeating `run --wait` keeps a run longer than its grace alive to Done, then gives the lease back", async () => {
    const res = await cli(["run", "lease/eight", "--wait", "--keep-running", "never", "--lease-grace", "3"], env);
    expect(res.code, res.stderr).toBe(0);
    const runId = /^Run (\S+) /m.exec(res.stdout)?.[1] as string;
    const leases = leaseEvents(await events(runId));
    expect(leases.map((l) => l.status)).toEqual(["taken"]);
    expect((await s.api<RunDetail>("GET", `/api/runs/${runId}`)).body.state).toBe("Done");
    const row = s.app.db.$client.prepare("select lease_expires_at as e from runs where id = ?").get(runId);
    expect(row).toEqual({ e: null });
    // `--no-lease`: nothing taken
    const free = await cli(["run", "lease/eight", "--wait", "--keep-running", "never", "--no-lease"], env);
    expect(free.code, free.stderr).toBe(0);
    const freeId = /^Run (\S+) /m.exec(free.stdout)?.[1] as string;
    expect(leaseEvents(await events(freeId))).toEqual([]);
  });

  it("any API client: renewals are idempotent heartbeats, a release leaves the run up, a kept run is not terminated", async () => {
    const run = (await s.api<RunDetail>("POST", "/api/runs", { module: "lease/forever", keepRunning: "never" })).body;
    const take = () => s.api<LeaseState>("POST", `/api/runs/${run.id}/lease`, { graceSeconds: 2 });
    expect((await take()).body).toMatchObject({ id: run.id, graceSeconds: 2 });
    // 5 s of heartbeats every second: past the grace twice over, the run lives on
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      expect((await take()).status).toBe(200);
    }
    expect((await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.state).not.toMatch(/Cancelled|Finalizing/);
    expect(leaseEvents(await events(run.id)).map((l) => l.status)).toEqual(["taken"]);
    const released = await s.api<LeaseState>("DELETE", `/api/runs/${run.id}/lease`);
    expect(released.body).toEqual({ id: run.id, graceSeconds: null, expiresAt: null });
    expect((await s.api("DELETE", `/api/runs/${run.id}/lease`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 3000));
    expect((await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.state).toBe("Executing");
    expect(leaseEvents(await events(run.id)).map((l) => l.status)).toEqual(["taken", "released"]);
    expect((await s.api("POST", `/api/runs/${run.id}/terminate`)).status).toBe(200);
    await runEnds(s, run.id);
    const ended = await s.api<{ error: { code: string } }>("POST", `/api/runs/${run.id}/lease`, { graceSeconds: 2 });
    expect(ended.status).toBe(409);

    // kept in Ready by keep-running: the expiry says so and leaves the machines up
    const kept = (await s.api<RunDetail>("POST", "/api/runs", { module: "lease/eight", keepRunning: "always" })).body;
    await runReaches(s, kept.id, "Ready");
    await s.api("POST", `/api/runs/${kept.id}/lease`, { graceSeconds: 1 });
    const expired = await new Promise<RunEvent>((resolve) => {
      const l = (runId: string, evs: RunEvent[]) => {
        const e = evs.find((x) => x.body.type === "lease" && x.body.status === "expired");
        if (runId === kept.id && e) {
          s.app.bus.off("events", l);
          resolve(e);
        }
      };
      s.app.bus.on("events", l);
    });
    expect(expired.body).toMatchObject({
      message: expect.stringMatching(/not terminated, keep-running \(always\) keeps it in Ready/),
    });
    expect((await s.api<RunDetail>("GET", `/api/runs/${kept.id}`)).body.state).toBe("Ready");
    await s.api("POST", `/api/runs/${kept.id}/terminate`);
  });
});
