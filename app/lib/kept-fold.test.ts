import { describe, expect, it } from "vitest";
import type { RunDetail, RunEvent, RunEventBody } from "../../protocol/run";
import { foldDetail } from "./run-cache";

const detail: RunDetail = {
  id: "r1",
  module: "m",
  owner: "alice",
  state: "SendingReports",
  abort: null,
  recoveryMode: false,
  keepRunning: "always",
  scalable: false,
  tags: [],
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
  lastSeq: 1,
  allowed: [],
  instances: [],
  nodes: [],
  deadline: null,
  timeoutMinutes: 30,
  sshKeys: [],
  keptUntil: null,
  keptMaxHours: 24,
};
let seq = 1;
const ev = (body: RunEventBody, actor = "server"): RunEvent => ({
  runId: "r1",
  seq: ++seq,
  at: "2026-01-01T00:00:00.000Z",
  actor,
  body,
});

/** The run page's countdown reads `keptUntil` folded from the pushes: kept, extended by anyone, then gone. */
describe("foldDetail: a kept run's expiry", () => {
  it("is set by `kept`, moved by `kept-extended`, and cleared when the run leaves Ready", () => {
    const kept = [
      ev({ type: "state", from: "SendingReports", to: "Ready" }),
      ev({ type: "kept", keepRunning: "always", aborted: false, until: "2026-01-02T00:00:00.000Z" }),
    ];
    let d = foldDetail(detail, kept);
    expect(d).toMatchObject({ state: "Ready", keptUntil: "2026-01-02T00:00:00.000Z" });
    const extended = ev({ type: "kept-extended", hours: 2, until: "2026-01-02T02:00:00.000Z" }, "user:bob");
    d = foldDetail(d, [...kept, extended]);
    expect(d.keptUntil).toBe("2026-01-02T02:00:00.000Z");
    // a replay of what the snapshot already holds changes nothing
    expect(foldDetail(d, [...kept, extended])).toBe(d);
    const ended = [
      ev({ type: "kept-expired", hours: 26, message: "kept for 26 h, its limit: terminated" }, "system"),
      ev({ type: "terminate" }, "system"),
      ev({ type: "state", from: "Ready", to: "Finalizing" }),
    ];
    d = foldDetail(d, ended);
    expect(d).toMatchObject({ state: "Finalizing", keptUntil: null });
  });
});
