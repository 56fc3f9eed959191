import { describe, expect, it } from "vitest";
import { PeerCloud } from "../testing/harness.js";
import { serverPerTest, tutorialRun } from "../testing/per-test.js";

const t = serverPerTest();

type Page = { chunks: { seq: number; target: string; stream: string; data: string }[]; lastSeq: number; more: boolean };

describe("GET /api/runs/:id/instances/:instance/log", () => {
  it("pages through one instance's log in order, without the others', and names what it cannot find", async () => {
    const cloud = new PeerCloud();
    const s = await t.boot(cloud);
    const run = await tutorialRun(s);
    const apache = t.peer((await cloud.launched("apache.1")).token);
    const client = t.peer((await cloud.launched("client.1")).token);
    for (let i = 1; i <= 5; i++) {
      const ack = await apache.call("log:append", {
        chunk: i,
        target: "execute",
        stream: i % 2 ? "stdout" : "stderr",
        data: `apache line ${i}\n`,
      });
      expect(ack.ok, JSON.stringify(ack)).toBe(true);
      await client.call("log:append", { chunk: i, target: "execute", stream: "stdout", data: `client line ${i}\n` });
    }
    const url = `/api/runs/${run.id}/instances/apache.1/log`;
    const pages: Page[] = [];
    let since = 0;
    for (;;) {
      const page = await s.api<Page>("GET", `${url}?since=${since}&limit=2`);
      expect(page.status, JSON.stringify(page.body)).toBe(200);
      pages.push(page.body);
      since = page.body.lastSeq;
      if (!page.body.more) break;
    }
    expect(pages.map((p) => p.chunks.length)).toEqual([2, 2, 1]);
    const chunks = pages.flatMap((p) => p.chunks);
    expect(chunks.map((c) => c.data)).toEqual([1, 2, 3, 4, 5].map((i) => `apache line ${i}\n`));
    expect(chunks.map((c) => c.stream)).toEqual(["stdout", "stderr", "stdout", "stderr", "stdout"]);
    expect(chunks.every((c, i) => i === 0 || c.seq > chunks[i - 1].seq)).toBe(true);
    // an empty page from the end says where it is
    expect((await s.api<Page>("GET", `${url}?since=${since}`)).body).toEqual({
      chunks: [],
      lastSeq: since,
      more: false,
    });

    const missing = await s.api<{ error: { code: string; message: string } }>(
      "GET",
      `/api/runs/${run.id}/instances/apache.7/log`,
    );
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toMatch(/no instance 'apache.7'/);
    const bad = await s.api<{ error: { fields: Record<string, string> } }>(
      "GET",
      `/api/runs/${run.id}/instances/apache/log?limit=0`,
    );
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.body.error.fields).sort()).toEqual(["instance", "limit"]);

    // an agent started again for apache.1 learns where its log stands: it numbers on from 5, not from 1
    const again = t.peer((await cloud.launched("apache.1")).token);
    await again.until(() => true);
    expect(again.assignment?.logChunk).toBe(5);
    const next = await again.call("log:append", { chunk: 6, target: "execute", stream: "stdout", data: "after\n" });
    expect(next).toMatchObject({ ok: true, data: { seq: expect.any(Number) } });
  });

  it("a page holds about 4 MiB at most, whatever its limit, and says there is more", async () => {
    const cloud = new PeerCloud();
    const s = await t.boot(cloud);
    const run = await tutorialRun(s);
    const apache = t.peer((await cloud.launched("apache.1")).token);
    const big = "x".repeat(64 * 1024);
    for (let i = 1; i <= 80; i++) {
      const ack = await apache.call("log:append", { chunk: i, target: "execute", stream: "stdout", data: big });
      expect(ack.ok, JSON.stringify(ack)).toBe(true);
    }
    const page = await s.api<Page>("GET", `/api/runs/${run.id}/instances/apache.1/log?limit=1000`);
    expect(page.status).toBe(200);
    expect(page.body.chunks.length).toBeGreaterThan(0);
    expect(page.body.chunks.length).toBeLessThan(80);
    expect(page.body.chunks.length * big.length).toBeLessThanOrEqual(4 * 1024 * 1024 + big.length);
    expect(page.body.more).toBe(true);
  });
});
