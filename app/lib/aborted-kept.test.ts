import { describe, expect, it } from "vitest";
import type { RunEvent, RunEventBody } from "@/protocol/run";
import { abortResetsAfter, currentAbort, isAbortedKept, runStateLabel } from "./aborted-kept";

let seq = 0;
const ev = (actor: string, body: RunEventBody): RunEvent => ({
  runId: "r",
  seq: ++seq,
  at: `2026-12-03T10:00:0${seq % 10}Z`,
  actor,
  body,
});
const abort = (actor: string, message: string, first: boolean) =>
  ev(actor, { type: "abort", message, instance: actor.startsWith("node:") ? actor.slice(5) : null, first });

describe("aborted but kept", () => {
  it("is Ready (or any state before the end) with an abort; never an ended run", () => {
    expect(isAbortedKept({ state: "Ready", abort: "boom" })).toBe(true);
    expect(runStateLabel({ state: "Ready", abort: "boom" })).toBe("Ready · aborted");
    expect(runStateLabel({ state: "Ready", abort: null })).toBe("Ready");
    expect(runStateLabel({ state: "Aborted", abort: "boom" })).toBe("Aborted");
    expect(isAbortedKept({ state: "Done", abort: "x" })).toBe(false);
  });

  it("names who aborted first since the last reset, and each reset after a point with who did it", () => {
    seq = 0;
    const events = [
      abort("node:client.1", "download failed", true),
      abort("node:apache.1", "me too", false),
      ev("user:bob", { type: "abort-reset" }),
    ];
    expect(currentAbort(events)).toBeNull();
    expect(currentAbort(events.slice(0, 2))).toMatchObject({ by: "client.1", message: "download failed", seq: 1 });
    events.push(abort("user:admin", "stop", true));
    expect(currentAbort(events)).toMatchObject({ by: "admin", message: "stop", seq: 4 });
    expect(abortResetsAfter(events, 0)).toEqual([expect.objectContaining({ by: "bob", seq: 3 })]);
    expect(abortResetsAfter(events, 3)).toEqual([]);
  });
});
