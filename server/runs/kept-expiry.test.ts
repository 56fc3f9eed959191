import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { cli, tempDir } from "../../cli/testing.js";
import type { WebhookPayload } from "../../protocol/catalog/webhooks.js";
import type { RunDetail, RunEvent } from "../../protocol/run.js";
import { addMember } from "../http/team-fixtures.js";
import { startTestServer, type TestServer } from "../testing/harness.js";
import { RunWatcher } from "../testing/watch.js";

// the webhook receiver is on loopback, which a webhook may reach only when the operator allows private addresses
process.env.SLIPSTREAM_WEBHOOKS_PRIVATE = "allow";

/**
 * Kept-run expiry (protocol/kept.ts) with the real server and real agents on the local cloud running a real
 * script: a run kept in Ready is terminated at its expiry by `system` with an event saying why, the owner's
 * webhook is told, an extension moves the expiry, and a restart keeps it.
 */

const IMAGE = `kind: image
targets:
  execute: |
    #!/bin/sh
    echo kept-expiry-test
`;
const SECONDS = 1 / 3600;

const servers: TestServer[] = [];
const watchers: RunWatcher[] = [];
afterEach(async () => {
  for (const w of watchers.splice(0)) w.close();
  for (const s of servers.splice(0).reverse()) await s.close({ stopInstances: true }).catch(() => {});
});

async function boot(opts: { dataDir?: string; port?: number } = {}): Promise<TestServer> {
  const s = await startTestServer(opts);
  servers.push(s);
  return s;
}

async function keptRun(s: TestServer, keptMaxHours: number) {
  const imported = await s.api("POST", "/api/modules/import", { files: [{ path: "t/kept", yaml: IMAGE }] });
  expect(imported.status, JSON.stringify(imported.body)).toBe(200);
  const created = await s.api<RunDetail>("POST", "/api/runs", {
    module: "t/kept",
    keepRunning: "always",
    keptMaxHours,
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  expect(created.body.keptMaxHours).toBeCloseTo(keptMaxHours);
  const w = new RunWatcher(s.url, s.token, created.body.id);
  watchers.push(w);
  const kept = await w.until((e) => e.body.type === "kept");
  return { id: created.body.id, w, kept };
}

const untilOf = (e: RunEvent) => (e.body.type === "kept" || e.body.type === "kept-extended" ? e.body.until : null);

describe("kept-run expiry", () => {
  it("a kept run is terminated at its expiry by system, with the event saying why; the owner's webhook is told", async () => {
    const s = await boot();
    const got: WebhookPayload[] = [];
    const receiver = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        got.push(JSON.parse(body) as WebhookPayload);
        res.end("ok");
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    try {
      const port = (receiver.address() as AddressInfo).port;
      const hook = await s.api("POST", "/api/webhooks", { url: `http://127.0.0.1:${port}/hook`, format: "json" });
      expect(hook.status, JSON.stringify(hook.body)).toBe(201);

      const { id, w, kept } = await keptRun(s, 2 * SECONDS);
      const until = untilOf(kept)!;
      expect(Date.parse(until) - Date.parse(kept.at)).toBe(2000);
      const detail = (await s.api<RunDetail>("GET", `/api/runs/${id}`)).body;
      expect(detail.state).toBe("Ready");
      expect(detail.keptUntil).toBe(until);

      const done = await w.state("Done");
      const expired = w.events.find((e) => e.body.type === "kept-expired")!;
      expect(expired, "a kept-expired event").toBeDefined();
      expect(expired.actor).toBe("system");
      if (expired.body.type === "kept-expired") {
        expect(expired.body.message).toMatch(/^kept for [\d.e-]+ h, its limit: terminated$/);
        expect(expired.body.hours * 3600).toBeGreaterThanOrEqual(1.9);
      }
      // not before the expiry, and by the timer, not at the next unrelated event
      expect(Date.parse(expired.at)).toBeGreaterThanOrEqual(Date.parse(until));
      expect(Date.parse(expired.at) - Date.parse(until)).toBeLessThan(3000);
      // the same terminate a person's Terminate makes, in the same transaction, then Finalizing and Done
      const next = w.events[w.events.indexOf(expired) + 1];
      expect(next).toMatchObject({ actor: "system", body: { type: "terminate" }, seq: expired.seq + 1 });
      expect(done.seq).toBeGreaterThan(next.seq);
      expect((await s.api<RunDetail>("GET", `/api/runs/${id}`)).body.keptUntil).toBeNull();

      // the owner's webhook: run.expired with the reason, then run.ended (deliveries are immediate, not ordered)
      const deadline = Date.now() + 15_000;
      while (got.filter((p) => p.run?.id === id && p.event !== "run.kept").length < 2 && Date.now() < deadline) {
        await new Promise<void>((r) => receiver.once("request", () => r()));
      }
      const expiredHook = got.find((p) => p.event === "run.expired");
      expect(expiredHook?.reason).toBe(expired.body.type === "kept-expired" ? expired.body.message : "");
      expect(expiredHook?.run?.id).toBe(id);
      expect(got.some((p) => p.event === "run.ended" && p.run?.state === "Done")).toBe(true);
    } finally {
      receiver.close();
    }
  });

  it("extend moves the expiry (live for watchers), and is refused for another member, bad hours and a run not kept", async () => {
    const s = await boot();
    // long enough for the refusals and a CLI process on a busy machine before it would expire
    const { id, w, kept } = await keptRun(s, 15 * SECONDS);
    const first = untilOf(kept)!;
    const env = { url: s.url, configDir: await tempDir("kept"), token: s.token };

    // input is checked, naming the field
    for (const hours of [0, -1, 24 * 7 + 1]) {
      const bad = await s.api<{ message: string }>("POST", `/api/runs/${id}/extend`, { hours });
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.body)).toContain("hours");
    }
    // a member who does not own it may not
    const bob = await addMember(s, "bob");
    const refused = await s.api("POST", `/api/runs/${id}/extend`, { hours: 1 }, bob.token);
    expect(refused.status).toBe(403);

    // the owner (through the CLI) adds 3 s to it
    const out = await cli(["extend", id, "--hours", String(3 * SECONDS)], env);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(new RegExp(`Run ${id}: kept until `));
    const extended = await w.until((e) => e.body.type === "kept-extended");
    expect(extended.actor).toBe("user:admin");
    const second = untilOf(extended)!;
    expect(Date.parse(second) - Date.parse(first)).toBe(3000);
    expect((await s.api<RunDetail>("GET", `/api/runs/${id}`)).body.keptUntil).toBe(second);
    const status = await cli(["status", id], env);
    expect(status.stdout).toMatch(/kept until\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);

    await w.state("Done");
    const expired = w.events.find((e) => e.body.type === "kept-expired")!;
    // the first expiry passed without effect: only the moved one ends it
    expect(Date.parse(expired.at)).toBeGreaterThanOrEqual(Date.parse(second));

    // an ended run has nothing to extend
    const late = await s.api("POST", `/api/runs/${id}/extend`, { hours: 1 });
    expect(late.status).toBe(409);
    expect(JSON.stringify(late.body)).toMatch(/not kept in Ready \(it is Done\)/);
  });

  it("a server restart keeps the expiry: the new process terminates the run at the stored time", async () => {
    const first = await boot();
    const { id, kept } = await keptRun(first, 6 * SECONDS);
    const until = untilOf(kept)!;
    for (const w of watchers.splice(0)) w.close();
    await first.close();
    servers.splice(servers.indexOf(first), 1);

    // same port: the agents reconnect to the new process
    const second = await boot({ dataDir: first.dataDir, port: first.port });
    const w = new RunWatcher(second.url, second.token, id);
    watchers.push(w);
    await w.until((e) => e.body.type === "server" && e.body.status === "started");
    const started = w.events.find((e) => e.body.type === "server" && e.body.status === "started")!;
    expect(Date.parse(started.at)).toBeLessThan(Date.parse(until));
    expect((await second.api<RunDetail>("GET", `/api/runs/${id}`)).body.keptUntil).toBe(until);

    await w.state("Done");
    const expired = w.events.find((e) => e.body.type === "kept-expired")!;
    expect(expired.actor).toBe("system");
    expect(expired.seq).toBeGreaterThan(started.seq);
    expect(Date.parse(expired.at)).toBeGreaterThanOrEqual(Date.parse(until));
    expect(Date.parse(expired.at) - Date.parse(until)).toBeLessThan(3000);
  });
});
