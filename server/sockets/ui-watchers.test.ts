import type { Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { addMember, connect, emitAck } from "../http/team-fixtures.js";
import { PeerCloud, startTestServer, type TestServer } from "../testing/harness.js";

let s: TestServer;
const cloud = new PeerCloud();
beforeAll(async () => {
  s = await startTestServer({ connectors: new Map([["p", cloud]]) });
});
afterAll(() => s.close());

/** A /ui socket recording every `run:watchers` list it is sent, in order. */
async function watcher(token: string) {
  const { socket, error } = await connect(s, "/ui", { token });
  if (!socket) throw new Error(`connect: ${error}`);
  const lists: string[][] = [];
  const waiting: { n: number; resolve: () => void }[] = [];
  socket.on("run:watchers", (m: { users: string[] }) => {
    lists.push(m.users);
    for (const w of waiting.filter((x) => lists.length >= x.n)) w.resolve();
  });
  return {
    socket: socket as Socket,
    lists,
    /** resolves once `n` lists have arrived */
    received: (n: number) =>
      lists.length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiting.push({ n, resolve })),
  };
}

describe("who is watching a run, on /ui", () => {
  it("the room hears of a change of users only; another socket of a user already watching gets the list alone", async () => {
    const run = await s.api<RunDetail>("POST", "/api/runs", {
      module: "examples/tutorials/service-testing/apache",
      clouds: { machine: "p" },
    });
    expect(run.status).toBe(201);
    const runId = run.body.id;
    const bob = await addMember(s, "bob");

    const a1 = await watcher(s.token);
    expect(await emitAck(a1.socket, "run:subscribe", { runId, since: 0 })).toMatchObject({ ok: true });
    await a1.received(1);
    const a2 = await watcher(s.token);
    expect(await emitAck(a2.socket, "run:subscribe", { runId, since: 0 })).toMatchObject({ ok: true });
    await a2.received(1);
    const b1 = await watcher(bob.token);
    expect(await emitAck(b1.socket, "run:subscribe", { runId, since: 0 })).toMatchObject({ ok: true });
    await Promise.all([a1.received(2), a2.received(2), b1.received(1)]);
    // a socket's pushes arrive in order, so a list a2's subscribe had sent a1 would be before bob's
    expect(a1.lists).toEqual([["admin"], ["admin", "bob"]]);
    expect(a2.lists).toEqual([["admin"], ["admin", "bob"]]);

    // admin still watches through a1: no push; when a1 goes too, the list changes
    expect(await emitAck(a2.socket, "run:unsubscribe", { runId })).toMatchObject({ ok: true });
    a1.socket.close();
    await b1.received(2);
    expect(b1.lists).toEqual([["admin", "bob"], ["bob"]]);
    expect(a2.lists).toHaveLength(2);
    a2.socket.close();
    b1.socket.close();
  });
});
