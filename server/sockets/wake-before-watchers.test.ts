import { describe, expect, it, onTestFinished } from "vitest";
import type { RunEvent } from "../../protocol/run.js";
import { PROTOCOL_VERSION } from "../../protocol/version.js";
import { executingRun } from "../testing/executing-run.js";
import { serverPerTest } from "../testing/per-test.js";

/**
 * A blocked `param:get` woken by a `param:set` is answered before the write's event is pushed to the run's /ui
 * watchers (run-commit.ts `holdEvents`): the watchers' push is work the waiting reader need not wait for. Both go
 * out in the same turn, after the commit. Checked with a /ui socket multiplexed on the reader's own connection, where
 * what arrives first is what the server wrote first.
 */

const t = serverPerTest();

describe("wake before watchers", () => {
  it("the woken reader's answer is written before the watchers' push of the event, and both come", async () => {
    const { s, run, apache, client } = await executingRun(t);

    // a watcher on the reader's connection (one engine.io socket, two namespaces)
    const ui = client.socket.io.socket("/ui", { auth: { token: s.token, protocolVersion: PROTOCOL_VERSION } });
    onTestFinished(() => {
      ui.close();
    });
    await new Promise<void>((resolve, reject) => {
      ui.once("connect_error", reject);
      ui.once("connect", () => ui.emit("run:subscribe", { runId: run.id, since: 0 }, () => resolve()));
    });

    const arrived: string[] = [];
    let pushed: RunEvent | undefined;
    ui.on("run:events", (events: RunEvent[]) => {
      for (const e of events) {
        if (e.body.type !== "param" || e.body.key !== "apache.1:ready") continue;
        arrived.push("watcher");
        pushed = e;
      }
    });
    // noted in the ack callback itself, as the watcher's push is in its listener: a promise would note it a tick late
    const waiting = new Promise<unknown>((resolve) => {
      (client.socket.emit as (e: string, r: unknown, cb: (a: unknown) => void) => void)(
        "param:get",
        { key: "apache.1:ready", timeout: 0 },
        (ack) => {
          arrived.push("reader");
          resolve(ack);
        },
      );
    });
    // the wait is registered (answered in order on the connection) before the write is sent
    await client.call("param:get", { key: "apache.1:hostname", timeout: 0, noblock: true });
    const write = await apache.call("param:set", { key: "apache.1:ready", value: "true" });
    const read = await waiting;
    // the watcher's push is on the same connection, sent in the same turn as the answer: a round trip drains it
    await new Promise<void>((resolve) => ui.emit("run:unsubscribe", { runId: run.id }, () => resolve()));

    expect(read).toEqual({ ok: true, data: { value: "true" } });
    expect(write.ok).toBe(true);
    expect(arrived).toEqual(["reader", "watcher"]);
    // the push carries the write's seq, as every push does
    expect(pushed?.seq).toBe((write as { data: { seq: number } }).data.seq);
  });
});
