import { afterAll, describe, expect, it } from "vitest";
import type { RunDetail, RunEvent } from "../../protocol/run.js";
import { PeerCloud, runEnds, startTestServer, type TestServer } from "../testing/harness.js";

/** A lease across a restart: its holder could not renew while the server was down, so it gets its grace again. */

const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers.reverse()) await s.close({ stopInstances: true }).catch(() => {});
});

describe("a run's lease across a server restart", () => {
  it("is armed again at boot with its grace counted from the start, then ends the run", async () => {
    const connectors = () => new Map([["peer", new PeerCloud()]]);
    const first = await startTestServer({ connectors: connectors() });
    servers.push(first);
    const imported = await first.api("POST", "/api/modules/import", {
      files: [{ path: "t/idle", yaml: "kind: image\n" }],
    });
    expect(imported.status, JSON.stringify(imported.body)).toBe(200);
    const run = (await first.api<RunDetail>("POST", "/api/runs", { module: "t/idle", clouds: { machine: "peer" } }))
      .body;
    expect((await first.api("POST", `/api/runs/${run.id}/lease`, { graceSeconds: 2 })).status).toBe(200);
    await first.close();
    servers.pop();
    // down for longer than the grace: the stored expiry has passed
    await new Promise((r) => setTimeout(r, 2500));

    const second = await startTestServer({ dataDir: first.dataDir, connectors: connectors() });
    servers.push(second);
    expect((await second.api<RunDetail>("GET", `/api/runs/${run.id}`)).body.state).toBe("Provisioning");
    const end = await runEnds(second, run.id);
    expect(end.state).toBe("Cancelled");
    // not at once although its expiry passed while the server was down: its grace again, from the start
    expect(Date.now() - second.readyAt).toBeGreaterThanOrEqual(1500);
    const events = (await second.api<{ events: RunEvent[] }>("GET", `/api/runs/${run.id}/events?limit=1000`)).body
      .events;
    const expired = events.find((e) => e.body.type === "lease" && e.body.status === "expired");
    expect(expired?.body).toMatchObject({
      graceSeconds: 2,
      message: expect.stringMatching(/went away ([4-9]|\d\d) s ago/),
    });
  });
});
