import { describe, expect, it } from "vitest";
import type { RunEvent } from "../protocol/run.js";
import { diffRuns, reportKey } from "./run-diff.js";
import { replayRun } from "./run-replay.js";
import { log, TUTORIAL } from "./run-replay-fixtures.js";

const declared = (events: RunEvent[]) =>
  new Map(events.flatMap((e) => (e.body.type === "param" ? [[e.body.key, "output" as const]] : [])));

const GOOD = log(
  [
    { body: { type: "created", module: "m/system", instances: ["apache.1", "client.1", "client.2"] } },
    { body: { type: "state", from: null, to: "Initializing" } },
    { body: { type: "param", key: "apache.1:port", value: "80" } },
    { body: { type: "state", from: "Initializing", to: "Provisioning" } },
    { body: { type: "instance", instance: "apache.1", status: "starting" } },
    { body: { type: "instance", instance: "client.1", status: "starting" } },
    { body: { type: "instance", instance: "apache.1", status: "completed", state: "Provisioning" } },
    { body: { type: "instance", instance: "client.1", status: "completed", state: "Provisioning" } },
    { body: { type: "state", from: "Provisioning", to: "Executing" } },
    { body: { type: "instance", instance: "client.1", status: "completed", state: "Executing" } },
    { body: { type: "instance", instance: "apache.1", status: "completed", state: "Executing" } },
    { body: { type: "report", name: "client.1_report_20260101T100000Z.tgz", size: 30, instance: "client.1" } },
    { body: { type: "report", name: "orchestrator_report_20260101T100000Z.tgz", size: 99, instance: null } },
    { body: { type: "state", from: "Executing", to: "Done" } },
  ],
  "r2",
  Date.UTC(2026, 0, 1, 10),
);

describe("comparing two runs of a module", () => {
  const input = (id: string, events: RunEvent[]) => ({
    id,
    owner: "ann",
    tags: [],
    replay: replayRun(events),
    declared: declared(events),
  });
  const diff = diffRuns(input("r1", TUTORIAL), input("r2", GOOD));

  it("puts each parameter's two values side by side and says which differ", () => {
    expect(diff.module).toBe("m/system");
    expect(diff.params).toEqual([
      { key: "apache.1:port", category: "output", a: "8080", b: "80", inA: true, inB: true, same: false },
      { key: "apache.1:ready", category: "output", a: "true", b: null, inA: true, inB: false, same: false },
    ]);
  });

  it("says how each instance ended and how long its states took", () => {
    const byName = new Map(diff.instances.map((i) => [i.name, i]));
    // client.1 aborted the first run after completing Provisioning (2 s after it began); it completed the second
    expect(byName.get("client.1")).toMatchObject({
      a: { outcome: "aborted", lastCompleted: "Provisioning", detail: "client.1: cannot reach", totalMs: 4000 },
      b: { outcome: "completed", lastCompleted: "Executing", detail: null, totalMs: 4000 },
      same: false,
    });
    expect(byName.get("client.1")?.a?.perStateMs).toEqual({ Provisioning: 6000 });
    expect(byName.get("client.1")?.b?.perStateMs).toEqual({ Provisioning: 4000, Executing: 1000 });
    expect(byName.get("apache.1")).toMatchObject({
      a: { outcome: "completed" },
      b: { outcome: "completed" },
      same: true,
    });
    // an instance only one run had
    expect(byName.get("client.2")).toMatchObject({ a: null, b: { outcome: "unfinished" }, same: false });
    expect(diff.instances.map((i) => i.name)).toEqual(["apache.1", "client.1", "client.2"]);
  });

  it("adds up time per state and matches report files without their upload time", () => {
    expect(diff.states).toEqual([
      { state: "Initializing", aMs: 2000, bMs: 2000 },
      { state: "Provisioning", aMs: 7000, bMs: 5000 },
      { state: "Executing", aMs: 8000, bMs: 5000 },
      { state: "Done", aMs: null, bMs: 0 },
      { state: "Aborted", aMs: 0, bMs: null },
    ]);
    expect(diff.reports).toEqual([
      {
        key: "client.1_report.tgz",
        a: { name: "client.1_report_20260101T000016Z.tgz", size: 12 },
        b: { name: "client.1_report_20260101T100000Z.tgz", size: 30 },
      },
      { key: "orchestrator_report.tgz", a: null, b: { name: "orchestrator_report_20260101T100000Z.tgz", size: 99 } },
    ]);
    expect(reportKey("x.tgz")).toBe("x.tgz");
    expect(diff.a).toMatchObject({ id: "r1", state: "Aborted", abort: "client.1: cannot reach", durationMs: 18000 });
    expect(diff.b).toMatchObject({ id: "r2", state: "Done", abort: null, durationMs: 13000 });
  });
});
