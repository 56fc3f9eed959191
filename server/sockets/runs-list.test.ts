import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import { connect, emitAck } from "../http/team-fixtures.js";
import { PeerCloud, startTestServer, type TestServer } from "../testing/harness.js";

let s: TestServer;
const cloud = new PeerCloud();
beforeAll(async () => {
  s = await startTestServer({ connectors: new Map([["p", cloud]]) });
});
afterAll(() => s.close());

describe("runs lists on /ui", () => {
  it("a new run is pushed to every runs list when it is created, before it moves on", async () => {
    const { socket } = await connect(s, "/ui", { token: s.token });
    const changes: { runId: string; state: string; seq: number }[] = [];
    let provisioning: () => void = () => {};
    const movedOn = new Promise<void>((resolve) => {
      provisioning = resolve;
    });
    socket!.on("runs:changed", (m: { runId: string; state: string; seq: number }) => {
      changes.push(m);
      if (m.state === "Provisioning") provisioning();
    });
    expect(await emitAck(socket!, "runs:subscribe", {})).toMatchObject({ ok: true });
    const created = await s.api<RunDetail>("POST", "/api/runs", {
      module: "examples/tutorials/service-testing/apache",
      clouds: { machine: "p" },
    });
    expect(created.status).toBe(201);
    await movedOn;
    const mine = changes.filter((c) => c.runId === created.body.id);
    expect(mine[0]).toMatchObject({ state: "Initializing" });
    expect(mine.map((c) => c.seq)).toEqual([...mine.map((c) => c.seq)].sort((a, b) => a - b));
    socket!.close();
  });
});
