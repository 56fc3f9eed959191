import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run.js";
import type { Connector } from "../connectors/types.js";
import { runEnds, startTestServer, type TestServer } from "../testing/harness.js";

/**
 * Recovery mode (run-rules R8) never leaves healthy instances without their reports: when one instance's machine
 * cannot be started, the run aborts with that reason on that instance, and the instances that came up — real
 * agents on the local cloud — still send their reports.
 */

/** A cloud with no capacity: every start fails, as a full SSH pool or a refused API call would. */
class FullCloud implements Connector {
  readonly kind = "full";
  async start(): Promise<never> {
    throw new Error("no capacity left on this cloud");
  }
  async stop(): Promise<void> {}
}

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ connectors: new Map([["full", new FullCloud()]]) });
});
afterAll(() => s.close({ stopInstances: true }));

describe("an instance whose machine cannot start", () => {
  it("aborts the run on that instance, and every instance that came up sends its report", async () => {
    const created = await s.api<RunDetail>("POST", "/api/runs", {
      module: "examples/tutorials/service-testing/system",
      clouds: { apache: "local", client: "full" },
      keepRunning: "never",
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const end = await runEnds(s, created.body.id);
    expect(end.state).toBe("Aborted");
    expect(end.abort).toBe("Failed to start 'client.1' on cloud 'full': no capacity left on this cloud");
    const params = (
      await s.api<{ params: { key: string; value: string | null }[] }>("GET", `/api/runs/${end.id}/params`)
    ).body.params;
    // the instance's own abort says it failed (the run page shows it, with the commands to debug it)
    expect(params.find((p) => p.key === "client.1:abort")?.value).toBe(end.abort);
    expect(params.find((p) => p.key === "apache.1:abort")?.value).toBeNull();
    const reports = (await s.api<{ reports: { name: string }[] }>("GET", `/api/runs/${end.id}/reports`)).body.reports;
    expect(reports.map((r) => r.name.replace(/_report_.*/, "")).sort()).toEqual(["apache.1", "orchestrator"]);
  });
});
