import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail, RunEvent } from "../protocol/run.js";
import { PeerCloud, startTestServer, type TestServer } from "../server/testing/harness.js";
import { CliError } from "./errors.js";
import { RunFollower } from "./follow.js";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ connectors: new Map([["peer", new PeerCloud()]]) });
});
afterAll(async () => {
  await s?.close();
});

async function parkedRun(): Promise<RunDetail> {
  const res = await s.api<RunDetail>("POST", "/api/runs", {
    module: "examples/tutorials/service-testing/system",
    clouds: { apache: "peer", client: "peer" },
  });
  expect(res.status).toBe(201);
  return res.body;
}

const setParam = (runId: string, key: string, value: string) =>
  s.api("PUT", `/api/runs/${runId}/params/${key}`, { value }).then((r) => expect(r.status).toBe(200));

describe("RunFollower", () => {
  it("after a disconnect it re-subscribes from the last seq: events set meanwhile arrive once, none lost", async () => {
    const run = await parkedRun();
    const seen: RunEvent[] = [];
    const resubscribed: number[] = [];
    let reached: (() => void) | null = null;
    let target = 0;
    const follower = new RunFollower({
      url: s.url,
      token: s.token,
      runId: run.id,
      since: 0,
      onEvent: (e) => {
        seen.push(e);
        if (e.seq >= target) reached?.();
        return e.body.type === "state" && e.body.to === "Cancelled" ? "stop" : undefined;
      },
      onResubscribed: (since) => resubscribed.push(since),
    });
    const upTo = (seq: number) =>
      new Promise<void>((resolve) => {
        target = seq;
        reached = resolve;
        if (follower.lastSeq >= seq) resolve();
      });
    await upTo((await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.lastSeq);
    const seenBefore = follower.lastSeq;

    // drop the connection and keep it down while the run changes
    follower.socket.io.reconnection(false);
    const dropped = new Promise<void>((r) => follower.socket.once("disconnect", () => r()));
    follower.socket.io.engine.close();
    await dropped;
    await setParam(run.id, "apache.1:port", "8081");
    await setParam(run.id, "apache.1:ready", "true");
    follower.socket.connect();

    const lastSeq = (await s.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.lastSeq;
    await upTo(lastSeq);
    expect(resubscribed).toEqual([seenBefore]);
    expect(seen.map((e) => e.seq)).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1));
    const params = seen.flatMap((e) => (e.body.type === "param" && e.body.key.startsWith("apache.1:") ? [e.body] : []));
    expect(params).toEqual(
      expect.arrayContaining([
        { type: "param", key: "apache.1:port", value: "8081" },
        { type: "param", key: "apache.1:ready", value: "true" },
      ]),
    );

    // it ends when the handler says so
    await s.api("POST", `/api/runs/${run.id}/terminate`);
    await follower.done;
    expect(seen.at(-1)?.body).toMatchObject({ type: "state", to: "Cancelled" });
  });

  it("a refused token fails with exit code 4; an unknown run with 2", async () => {
    const run = await parkedRun();
    const refused = new RunFollower({
      url: s.url,
      token: "ss_bogus_token",
      runId: run.id,
      since: 0,
      onEvent: () => undefined,
    });
    await expect(refused.done).rejects.toMatchObject({ exitCode: 4 });
    const unknown = new RunFollower({ url: s.url, token: s.token, runId: "nope", since: 0, onEvent: () => undefined });
    const err = await unknown.done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect(err).toMatchObject({ exitCode: 2 });
    await s.api("POST", `/api/runs/${run.id}/terminate`);
  });

  it("a token revoked while following ends it at once with exit code 4 and the reason", async () => {
    const run = await parkedRun();
    const created = await s.api<{ id: number; token: string }>("POST", "/api/tokens", { name: "watcher" });
    const follower = new RunFollower({
      url: s.url,
      token: created.body.token,
      runId: run.id,
      since: 0,
      onEvent: () => undefined,
    });
    const outcome = follower.done.catch((e: unknown) => e);
    await new Promise<void>((resolve) => follower.socket.once("connect", () => resolve()));
    await s.api("DELETE", `/api/tokens/${created.body.id}`);
    expect(await outcome).toMatchObject({ exitCode: 4, message: "signed out: the token 'watcher' was revoked" });
    await s.api("POST", `/api/runs/${run.id}/terminate`);
  });
});
