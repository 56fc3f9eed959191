import { describe, expect, it } from "vitest";
import type { AbortReceipt } from "../../protocol/abort-receipt";
import { InstanceSummary, RunDetail, type RunEvent, type RunEventBody } from "../../protocol/run";
import { currentAbortReceipts } from "./abort-receipts";

const instance = (name: string, over: Partial<InstanceSummary> = {}): InstanceSummary =>
  InstanceSummary.parse({
    name,
    node: name.split(".")[0],
    index: Number(name.split(".")[1]),
    cloud: "local",
    live: true,
    cameUp: true,
    completed: false,
    workspace: null,
    ...over,
  });

const run = (abort: string | null, instances: InstanceSummary[]): RunDetail =>
  RunDetail.parse({
    id: "r1",
    module: "m",
    owner: "alice",
    state: "Executing",
    abort,
    recoveryMode: false,
    keepRunning: "never",
    scalable: false,
    tags: [],
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:00.000Z",
    lastSeq: 10,
    instances,
    nodes: [],
    deadline: null,
    timeoutMinutes: 30,
    sshKeys: [],
  });

let seq = 0;
const ev = (body: RunEventBody): RunEvent => ({
  runId: "r1",
  seq: ++seq,
  at: "2026-01-01T00:00:00.000Z",
  actor: "server",
  body,
});
const receipt = (instance: string, abort: number, revision: number, over: Partial<AbortReceipt> = {}): RunEvent =>
  ev({
    type: "abort-receipt",
    instance,
    abort,
    revision,
    reachedAt: "2026-01-01T00:00:01.000Z",
    receivedAt: "2026-01-01T00:00:02.000Z",
    scripts: [],
    report: "pending",
    reportError: null,
    ...over,
  });

describe("the run page's abort receipts, folded from events", () => {
  it("nothing when the run is not aborted", () => {
    expect(currentAbortReceipts(run(null, [instance("a.1")]), [receipt("a.1", 1, 1)])).toBeNull();
  });

  it("the abort in force only, the highest revision of each instance, and a waiting row for an agent not heard from", () => {
    const events = [
      receipt("a.1", 1, 1),
      ev({ type: "abort-reset" }),
      receipt("a.1", 2, 2, { report: "sent" }),
      // an older revision arriving late does not replace the newer one
      receipt("a.1", 2, 1),
    ];
    const current = currentAbortReceipts(run("again", [instance("b.1"), instance("a.1")]), events);
    expect(current?.abort).toBe(2);
    expect(current?.rows.map((r) => [r.instance, r.receipt?.revision ?? null, r.receipt?.report ?? null])).toEqual([
      ["a.1", 2, "sent"],
      ["b.1", null, null],
    ]);
  });

  it("lists a lost instance without a receipt, not one removed before the abort", () => {
    const instances = [
      instance("a.1", { live: false, liveness: "lost" }),
      instance("b.1", { live: false, liveness: "ended" }),
      instance("c.1"),
    ];
    const current = currentAbortReceipts(run("boom", instances), []);
    expect(current?.rows).toEqual([
      { instance: "a.1", live: false, receipt: null },
      { instance: "c.1", live: true, receipt: null },
    ]);
  });
});
