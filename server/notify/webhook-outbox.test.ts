import type { ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { WebhookDelivery, WebhookPayload, WebhookView } from "../../protocol/catalog/webhooks.js";
import type { RunDetail, RunEvent } from "../../protocol/run.js";
import { freePort } from "../testing/free-port.js";
import { completeThrough, PeerCloud, runEnds, runReaches, type TestServer } from "../testing/harness.js";
import { serverPerTest, tutorialRun } from "../testing/per-test.js";
import { signedInApi, startServerProcess } from "../testing/server-process.js";
import { RunWatcher } from "../testing/watch.js";
import { type Received, receiversPerTest, verified } from "../testing/webhook-receiver.js";
import { stopWebhooks } from "./index.js";

// the receivers are on loopback, which a webhook may reach only when the operator allows private addresses
process.env.SLIPSTREAM_WEBHOOKS_PRIVATE = "allow";

/**
 * Webhook deliveries are stored by the transaction that writes the run event they tell of (an outbox): whatever
 * happens to the sender after that commit — stopped before it sends, the process killed mid-attempt — a restart on
 * the same data sends exactly the deliveries the run's history holds, each under its stable delivery id.
 */

const SECRET = "an-outbox-secret-1";
const receiver = receiversPerTest();
const t = serverPerTest();

/** The webhook events a run's history owes its owner, in history order (what the receiver must end up with). */
function owed(events: RunEvent[]): string[] {
  return events.flatMap((e) => {
    const b = e.body;
    if (b.type === "state" && ["Done", "Aborted", "Cancelled"].includes(b.to)) return ["run.ended"];
    if (b.type === "abort" && b.first) return ["run.aborted"];
    if (b.type === "kept") return ["run.kept"];
    if (b.type === "kept-expired") return ["run.expired"];
    return [];
  });
}

/** Each delivery id once, with the event it carried, in id order (a receiver dedupes on the id). */
function deduped(got: Received[]): { id: string; event: string; body: string }[] {
  const byId = new Map<string, { id: string; event: string; body: string }>();
  for (const g of got) {
    const id = String(g.headers["x-slipstream-delivery"]);
    const seen = byId.get(id);
    // a repeat is the same delivery: the same signed body
    if (seen) expect(g.body).toBe(seen.body);
    else byId.set(id, { id, event: String(g.headers["x-slipstream-event"]), body: g.body });
  }
  return [...byId.values()].sort((a, b) => Number(a.id) - Number(b.id));
}

async function allDelivered(s: Pick<TestServer, "api">): Promise<WebhookDelivery[]> {
  let last: WebhookDelivery[] = [];
  await vi.waitFor(
    async () => {
      last = (await s.api<{ deliveries: WebhookDelivery[] }>("GET", "/api/webhooks/deliveries?limit=100")).body
        .deliveries;
      if (last.length === 0 || last.some((d) => d.status !== "delivered")) throw new Error(JSON.stringify(last));
    },
    { timeout: 30_000, interval: 100 },
  );
  return last;
}

describe("webhook outbox", () => {
  it("the sender stopped before the run's commits: after a restart the receiver gets exactly what the history owes", async () => {
    const { r, url } = await receiver();
    const cloud = new PeerCloud();
    const s = await t.boot(cloud);
    const hook = await s.api<WebhookView>("POST", "/api/webhooks", { url, secret: SECRET });
    expect(hook.status).toBe(201);
    // from here on nothing sends: what the run commits must still be owed, as after a crash right after a commit
    stopWebhooks(s.app);

    const run = await tutorialRun(s, { keepRunning: "always" });
    const peers = await t.launched(cloud);
    await Promise.all(peers.map((p) => p.completeWhen("Provisioning")));
    await runReaches(s, run.id, "Executing");
    expect((await s.api("POST", `/api/runs/${run.id}/abort`, { message: "outbox test" })).status).toBe(200);
    // an abort does not cut a state short: the agents complete it, and the run is kept in Ready (keep-running always)
    await completeThrough(peers, ["Executing", "SendingReports", "Ready"]);
    await runReaches(s, run.id, "Ready");
    expect((await s.api("POST", `/api/runs/${run.id}/terminate`)).status).toBe(200);
    expect((await runEnds(s, run.id)).state).toBe("Aborted");
    const history = (await s.api<{ events: RunEvent[] }>("GET", `/api/runs/${run.id}/events?limit=10000`)).body.events;
    const expected = owed(history);
    expect(expected).toEqual(["run.aborted", "run.kept", "run.ended"]);
    expect(r.got).toEqual([]);

    await t.stop();
    const s2 = await t.boot(cloud, s.dataDir);
    await r.until((g) => g.length >= expected.length);
    const list = await allDelivered(s2);
    const got = deduped(r.got);
    expect(got.map((g) => g.event)).toEqual(expected);
    expect(got.map((g) => g.id)).toEqual(list.map((d) => String(d.id)).reverse());
    for (const g of r.got) expect(verified(g, SECRET)).toBe(true);
    for (const g of got) expect((JSON.parse(g.body) as WebhookPayload).run?.id).toBe(run.id);
    const ended = JSON.parse(got[2].body) as WebhookPayload;
    expect(ended.run).toMatchObject({ state: "Aborted", abort: "outbox test" });
    // nothing more comes: each was sent once
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(r.got).toHaveLength(expected.length);
  });
});

describe("webhook outbox: the real server process", () => {
  let child: ChildProcess | null = null;
  let watcher: RunWatcher | null = null;
  afterEach(() => {
    watcher?.close();
    child?.kill("SIGKILL");
  });

  it("kill -9 while the run's deliveries are in flight: restarted on the same data, each arrives again under its id, none other", async () => {
    const { r, url: hookUrl } = await receiver();
    let up = false;
    // before the crash the receiver never answers: every attempt is still in flight when the process dies
    r.answer = (_i, _req, res) => {
      if (up) res.end("ok");
    };
    const port = await freePort();
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-outbox-"));
    const env = { SLIPSTREAM_ADMIN_PASSWORD: "outbox-test-password", SLIPSTREAM_WEBHOOKS_PRIVATE: "allow" };
    child = (await startServerProcess(port, dataDir, env)).p;
    const url = `http://127.0.0.1:${port}`;
    const { token, api } = await signedInApi(url, "admin", env.SLIPSTREAM_ADMIN_PASSWORD);
    expect((await api("POST", "/api/webhooks", { url: hookUrl, secret: SECRET })).status).toBe(201);
    const created = await api<RunDetail>("POST", "/api/runs", {
      module: "examples/tutorials/service-testing/system",
      keepRunning: "never",
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const run = created.body;
    expect((await api("POST", `/api/runs/${run.id}/abort`, { message: "crash test" })).status).toBe(200);
    watcher = new RunWatcher(url, token, run.id);
    await watcher.until((e) => e.body.type === "state" && ["Done", "Aborted", "Cancelled"].includes(e.body.to));
    const history = (await api<{ events: RunEvent[] }>("GET", `/api/runs/${run.id}/events?limit=10000`)).body.events;
    const expected = owed(history);
    expect(expected).toEqual(["run.aborted", "run.ended"]);
    await r.until((g) => deduped(g).length >= expected.length);
    watcher.close();
    watcher = null;

    child.kill("SIGKILL");
    await new Promise((resolve) => child!.once("exit", resolve));
    up = true;
    child = (await startServerProcess(port, dataDir, env)).p;
    const again = await signedInApi(url, "admin", env.SLIPSTREAM_ADMIN_PASSWORD);
    await allDelivered(again);
    const got = deduped(r.got);
    expect(got.map((g) => g.event)).toEqual(expected);
    // at least once: each id came before the crash and again after it
    for (const g of got) {
      expect(r.got.filter((x) => x.headers["x-slipstream-delivery"] === g.id).length).toBeGreaterThanOrEqual(2);
    }
    for (const g of r.got) expect(verified(g, SECRET)).toBe(true);
  });
});
