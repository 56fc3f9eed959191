import { afterEach, describe, expect, it, vi } from "vitest";
import type { WebhookDelivery, WebhookPayload, WebhookView } from "../../protocol/catalog/webhooks.js";
import type { RunDetail } from "../../protocol/run.js";
import { addMember } from "../http/team-fixtures.js";
import { completeThrough, PeerCloud, runEnds, startTestServer, type TestServer } from "../testing/harness.js";
import { serverPerTest, tutorialRun } from "../testing/per-test.js";
import { receiversPerTest, verified } from "../testing/webhook-receiver.js";

// the receivers are on loopback, which a webhook may reach only when the operator allows private addresses
process.env.SLIPSTREAM_WEBHOOKS_PRIVATE = "allow";

/**
 * Webhooks end to end: a real receiver on loopback (node:http), the real server, real runs; the receiver checks
 * the signature the way a user's would (HMAC-SHA256 of the raw body, compared in constant time).
 */

const receiver = receiversPerTest();

const SECRET = "a-webhook-secret-1";

async function addHook(s: TestServer, body: Record<string, unknown>, token?: string): Promise<WebhookView> {
  const res = await s.api<WebhookView>("POST", "/api/webhooks", body, token);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

async function deliveries(s: TestServer, token?: string): Promise<WebhookDelivery[]> {
  const res = await s.api<{ deliveries: WebhookDelivery[] }>(
    "GET",
    "/api/webhooks/deliveries?limit=100",
    undefined,
    token,
  );
  expect(res.status).toBe(200);
  return res.body.deliveries;
}

/** The server records an attempt right after the receiver answers it: wait for the record. */
async function settled(s: TestServer, pred: (d: WebhookDelivery[]) => boolean): Promise<WebhookDelivery[]> {
  let last: WebhookDelivery[] = [];
  await vi.waitFor(
    async () => {
      last = await deliveries(s);
      if (!pred(last)) throw new Error(`deliveries not there yet: ${JSON.stringify(last)}`);
    },
    { timeout: 30_000, interval: 100 },
  );
  return last;
}

describe("webhooks: a real run on the local cloud", () => {
  let server: TestServer | null = null;
  afterEach(async () => {
    await server?.close({ stopInstances: true });
    server = null;
  });

  it("the run ends Done: the owner's webhook gets the signed payload, and the delivery is listed", async () => {
    const { r, url } = await receiver();
    const s = await startTestServer();
    server = s;
    const hook = await addHook(s, { url: `${url}/hooks/slip`, secret: SECRET });
    expect(hook).toMatchObject({ url: `${url}/hooks/slip`, format: "json", signed: true });
    // the secret is never shown again
    expect(JSON.stringify((await s.api("GET", "/api/webhooks")).body)).not.toContain(SECRET);

    const res = await s.api<RunDetail>("POST", "/api/runs", {
      module: "examples/tutorials/service-testing/system",
      keepRunning: "never",
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const run = res.body;
    expect((await runEnds(s, run.id)).state).toBe("Done");

    const [got] = await r.until((g) => g.some((x) => x.headers["x-slipstream-event"] === "run.ended"));
    const ended = r.got.find((x) => x.headers["x-slipstream-event"] === "run.ended")!;
    expect(got.path).toBe("/hooks/slip");
    expect(ended.headers["content-type"]).toBe("application/json");
    expect(verified(ended, SECRET)).toBe(true);
    expect(verified(ended, "another-secret")).toBe(false);
    const payload = JSON.parse(ended.body) as WebhookPayload;
    expect(payload).toMatchObject({
      event: "run.ended",
      deliveredFor: "admin",
      run: {
        id: run.id,
        module: "examples/tutorials/service-testing/system",
        state: "Done",
        abort: null,
        owner: "admin",
        links: {
          run: `${s.url}/runs/${run.id}`,
          api: `${s.url}/api/runs/${run.id}`,
          reports: `${s.url}/api/runs/${run.id}/reports`,
        },
      },
    });
    // a green run with keep-running never was neither aborted nor kept: one delivery only
    expect(r.got.filter((x) => x.headers["x-slipstream-event"] !== "run.ended")).toEqual([]);

    const list = await settled(s, (d) => d.some((x) => x.runId === run.id && x.status === "delivered"));
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      webhookId: hook.id,
      event: "run.ended",
      status: "delivered",
      attempts: 1,
      responseCode: 200,
      error: null,
    });
    expect(ended.headers["x-slipstream-delivery"]).toBe(String(list[0].id));
  });
});

describe("webhooks: retries, formats, limits", () => {
  const t = serverPerTest();

  it("a receiver that fails twice then answers 200 gets three attempts, 1 s then 2 s apart, all listed", async () => {
    const { r, url } = await receiver();
    r.answer = (i, _req, res) => {
      res.statusCode = i < 2 ? 503 : 200;
      res.end(i < 2 ? "busy" : "ok");
    };
    const s = await t.boot();
    const hook = await addHook(s, { url, secret: SECRET });
    const sent = await s.api<WebhookDelivery>("POST", `/api/webhooks/${hook.id}/test`);
    expect(sent.status).toBe(202);
    expect(sent.body).toMatchObject({ event: "ping", status: "pending", webhookId: hook.id });

    const got = await r.until((g) => g.length >= 3);
    // the same signed body every time
    for (const g of got) {
      expect(verified(g, SECRET)).toBe(true);
      expect(g.body).toBe(got[0].body);
      expect(g.headers["x-slipstream-event"]).toBe("ping");
    }
    expect(JSON.parse(got[0].body)).toMatchObject({ event: "ping", deliveredFor: "admin", run: null });
    const gap1 = got[1].at - got[0].at;
    const gap2 = got[2].at - got[1].at;
    expect(gap1).toBeGreaterThanOrEqual(900);
    expect(gap2).toBeGreaterThanOrEqual(1900);
    expect(gap2).toBeGreaterThan(gap1);

    const [d] = await settled(s, (l) => l[0]?.status === "delivered");
    expect(d).toMatchObject({ id: sent.body.id, status: "delivered", attempts: 3, responseCode: 200, error: null });
    expect(d.attemptLog.map((a) => [a.attempt, a.responseCode, a.error])).toEqual([
      [1, 503, "answered 503 Service Unavailable"],
      [2, 503, "answered 503 Service Unavailable"],
      [3, 200, null],
    ]);
    // nothing more is sent once it is delivered
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(r.got).toHaveLength(3);
  });

  it("a Slack-format webhook gets { text } naming the run, its abort message and a link", async () => {
    const { r, url } = await receiver();
    const s = await t.boot();
    await addHook(s, { url, format: "slack" });
    const run = await tutorialRun(s);
    const aborted = await s.api("POST", `/api/runs/${run.id}/abort`, { message: "disk <full> & gone" });
    expect(aborted.status).toBe(200);
    const [got] = await r.until((g) => g.some((x) => x.headers["x-slipstream-event"] === "run.aborted"));
    const body = JSON.parse(got.body) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(["text"]);
    expect(body.text).toContain("was aborted");
    expect(body.text).toContain("examples/tutorials/service-testing/system");
    expect(body.text).toContain(`<${s.url}/runs/${run.id}|`);
    // Slack's escaping of the message
    expect(body.text).toContain("disk &lt;full&gt; &amp; gone");
    // no secret: unsigned
    expect(got.headers["x-slipstream-signature-256"]).toBeUndefined();
  });

  it("a run kept in Ready is told (run.kept), then its end when terminated (run.ended); other users' hooks hear nothing", async () => {
    const { r, url } = await receiver();
    const other = await receiver();
    const cloud = new PeerCloud();
    const s = await t.boot(cloud);
    await addHook(s, { url, secret: SECRET });
    const mia = (await addMember(s, "mia")).token;
    await addHook(s, { url: other.url }, mia);
    const run = await tutorialRun(s, { keepRunning: "always" });
    const peers = await t.launched(cloud);
    await completeThrough(peers);
    const [kept] = await r.until((g) => g.length >= 1);
    expect(kept.headers["x-slipstream-event"]).toBe("run.kept");
    expect(verified(kept, SECRET)).toBe(true);
    expect(JSON.parse(kept.body)).toMatchObject({
      event: "run.kept",
      run: { id: run.id, state: "Ready", keepRunning: "always" },
    });
    expect((await s.api("POST", `/api/runs/${run.id}/terminate`)).status).toBe(200);
    expect((await runEnds(s, run.id)).state).toBe("Done");
    const got = await r.until((g) => g.length >= 2);
    expect(got.map((g) => g.headers["x-slipstream-event"])).toEqual(["run.kept", "run.ended"]);
    expect(other.r.got).toEqual([]);
  });

  it("a redirect is not followed: the attempt fails naming where it pointed, the other host gets nothing", async () => {
    const other = await receiver();
    const { r, url } = await receiver();
    r.answer = (_i, _req, res) => {
      res.statusCode = 307;
      res.setHeader("location", `${other.url}/elsewhere`);
      res.end();
    };
    const s = await t.boot();
    const hook = await addHook(s, { url });
    await s.api("POST", `/api/webhooks/${hook.id}/test`);
    await r.until((g) => g.length >= 1);
    const [d] = await settled(s, (l) => (l[0]?.attempts ?? 0) >= 1);
    expect(d).toMatchObject({ status: "pending", responseCode: 307 });
    expect(d.error).toContain(`redirected to ${other.url}/elsewhere; redirects are not followed`);
    expect(d.nextAttemptAt).not.toBeNull();
    expect(other.r.got).toEqual([]);
  });

  it("a receiver on a private address is not called unless the operator allows it (by name, literal or mapped)", async () => {
    const { r, url } = await receiver();
    const port = new URL(url).port;
    const s = await t.boot();
    delete process.env.SLIPSTREAM_WEBHOOKS_PRIVATE;
    try {
      for (const target of [url, `http://localhost:${port}`, `http://[::ffff:127.0.0.1]:${port}`]) {
        const hook = await addHook(s, { url: target });
        await s.api("POST", `/api/webhooks/${hook.id}/test`);
        const list = await settled(s, (l) => l.some((d) => d.webhookId === hook.id && d.attempts >= 1));
        const d = list.find((x) => x.webhookId === hook.id);
        expect(d?.error, target).toMatch(/private address; webhooks reach public addresses only/);
        await s.api("DELETE", `/api/webhooks/${hook.id}`);
      }
      expect(r.got).toEqual([]);
    } finally {
      process.env.SLIPSTREAM_WEBHOOKS_PRIVATE = "allow";
    }
  });

  it("limits and bad input are refused naming the field; a webhook is its owner's only", async () => {
    const s = await t.boot();
    const refused = async (body: Record<string, unknown>, field: string, status = 400) => {
      const res = await s.api<{ error: { code: string; fields?: Record<string, string> } }>(
        "POST",
        "/api/webhooks",
        body,
      );
      expect(res.status, JSON.stringify(res.body)).toBe(status);
      expect(Object.keys(res.body.error.fields ?? {})).toContain(field);
      return res.body.error;
    };
    await refused({ url: "ftp://example.org/hook" }, "url");
    await refused({ url: "file:///etc/passwd" }, "url");
    await refused({ url: "javascript:alert(1)" }, "url");
    await refused({ url: "not a url" }, "url");
    await refused({ url: "http://user:pw@example.org/hook" }, "url");
    await refused({ url: `https://example.org/${"a".repeat(2100)}` }, "url");
    await refused({ url: "https://example.org/hook", secret: "short" }, "secret");
    await refused({ url: "https://example.org/hook", format: "teams" }, "format");

    for (let i = 0; i < 10; i++) await addHook(s, { url: `https://example.org/hook/${i}` });
    const dup = await s.api<{ error: { code: string } }>("POST", "/api/webhooks", {
      url: "https://example.org/hook/0",
    });
    expect(dup.status).toBe(429); // the limit is checked first
    const limit = await refused({ url: "https://example.org/hook/10" }, "url", 429);
    expect(limit.code).toBe("LIMIT_EXCEEDED");
    const list = (await s.api<{ webhooks: WebhookView[]; limit: number }>("GET", "/api/webhooks")).body;
    expect(list.webhooks).toHaveLength(10);
    expect(list.limit).toBe(10);

    // another user sees none of them and may not touch them
    const mia = (await addMember(s, "mia")).token;
    expect((await s.api<{ webhooks: unknown[] }>("GET", "/api/webhooks", undefined, mia)).body.webhooks).toEqual([]);
    const id = list.webhooks[0].id;
    expect((await s.api("DELETE", `/api/webhooks/${id}`, undefined, mia)).status).toBe(404);
    expect((await s.api("POST", `/api/webhooks/${id}/test`, undefined, mia)).status).toBe(404);
    // the owner may; then there is room again
    expect((await s.api("DELETE", `/api/webhooks/${id}`)).status).toBe(200);
    await addHook(s, { url: "https://example.org/hook/10" });
    const again = await s.api<{ error: { code: string } }>("POST", "/api/webhooks", {
      url: "https://example.org/hook/11",
    });
    expect(again.status).toBe(429);
    await s.api("DELETE", `/api/webhooks/${list.webhooks[1].id}`);
    expect((await s.api("POST", "/api/webhooks", { url: "https://example.org/hook/1" })).status).toBe(201);
    await s.api("DELETE", `/api/webhooks/${list.webhooks[2].id}`);
    // below the limit, the same URL twice is a conflict
    expect((await s.api("POST", "/api/webhooks", { url: "https://example.org/hook/1" })).status).toBe(409);
  });

  it("a delivery pending when the server stops is retried after the restart", async () => {
    const { r, url } = await receiver();
    let up = false;
    r.answer = (_i, _req, res) => {
      res.statusCode = up ? 200 : 500;
      res.end();
    };
    const s = await t.boot();
    const hook = await addHook(s, { url, secret: SECRET });
    const sent = await s.api<WebhookDelivery>("POST", `/api/webhooks/${hook.id}/test`);
    await r.until((g) => g.length >= 1);
    await settled(s, (l) => l[0]?.attempts === 1);
    await t.stop();
    up = true;
    const s2 = await t.boot(undefined, s.dataDir);
    await r.until((g) => g.length >= 2);
    expect(verified(r.got[1], SECRET)).toBe(true);
    const [d] = await settled(s2, (l) => l[0]?.status === "delivered");
    expect(d).toMatchObject({ id: sent.body.id, attempts: 2, responseCode: 200 });
    expect(d.attemptLog.map((a) => a.responseCode)).toEqual([500, 200]);
  });
});
