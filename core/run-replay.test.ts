import { describe, expect, it } from "vitest";
import { applyEvent, emptyReplay, replayedLiveness, replayRun } from "./run-replay.js";
import { log, TUTORIAL } from "./run-replay-fixtures.js";

describe("replaying a run from its event log", () => {
  it("shows each moment as it was: state, parameters, instances, reports", () => {
    const early = replayRun(TUTORIAL, 8);
    expect(early).toMatchObject({ seq: 8, state: "Provisioning", module: "m/system", abort: null });
    expect(early.at).toBe(TUTORIAL[7].at);
    expect(early.params.get("apache.1:port")).toEqual({ value: "80", seq: 3 });
    expect(early.params.has("apache.1:ready")).toBe(false);
    expect(early.instances.get("client.1")).toMatchObject({ status: "up", cameUp: true, completedCurrent: false });
    expect(early.reports.size).toBe(0);

    const mid = replayRun(TUTORIAL, 15);
    expect(mid.state).toBe("Executing");
    expect(mid.params.get("apache.1:port")?.value).toBe("8080");
    expect(mid.instances.get("apache.1")?.completedCurrent).toBe(true);
    expect(mid.instances.get("client.1")?.completedCurrent).toBe(false);
    expect(replayedLiveness(mid, mid.instances.get("apache.1")!)).toBe("connected");

    const end = replayRun(TUTORIAL);
    expect(end).toMatchObject({ seq: 19, state: "Aborted", abort: "client.1: cannot reach" });
    expect(end.instances.get("client.1")?.problem).toBe("client.1: cannot reach");
    // the same name uploaded again replaces the report
    expect([...end.reports.values()]).toEqual([
      { name: "client.1_report_20260101T000016Z.tgz", instance: "client.1", size: 12, at: TUTORIAL[17].at },
    ]);
    expect(replayedLiveness(end, end.instances.get("apache.1")!)).toBe("ended");
  });

  it("records how long each state lasted, the open one ending at the next change", () => {
    const s = replayRun(TUTORIAL, 12);
    expect(s.states.map((x) => [x.state, x.from, x.to])).toEqual([
      ["Initializing", TUTORIAL[1].at, TUTORIAL[3].at],
      ["Provisioning", TUTORIAL[3].at, TUTORIAL[10].at],
      ["Executing", TUTORIAL[10].at, null],
    ]);
    expect(replayRun(TUTORIAL).states.at(-1)).toEqual({ state: "Aborted", from: TUTORIAL[18].at, to: TUTORIAL[18].at });
  });

  it("folds page by page to the same result as all at once", () => {
    const s = emptyReplay();
    for (const e of TUTORIAL.slice(0, 10)) applyEvent(s, e);
    for (const e of TUTORIAL.slice(10)) applyEvent(s, e);
    expect(s).toEqual(replayRun(TUTORIAL));
  });

  it("follows scales, failures and lost agents", () => {
    const events = log([
      { body: { type: "created", module: "m", instances: ["n.1"] } },
      { body: { type: "state", from: null, to: "Ready" } },
      { body: { type: "scale", node: "n", added: ["n.2", "n.3"], removed: [] } },
      { body: { type: "instance", instance: "n.2", status: "failed", detail: "no room" } },
      { body: { type: "instance", instance: "n.3", status: "up" } },
      { body: { type: "instance", instance: "n.3", status: "unresponsive" } },
      { body: { type: "scale", node: "n", added: [], removed: ["n.1"] } },
      { body: { type: "instance", instance: "n.3", status: "lost" } },
    ]);
    const at6 = replayRun(events, 6);
    expect([...at6.instances.keys()]).toEqual(["n.1", "n.2", "n.3"]);
    expect(at6.instances.get("n.2")).toMatchObject({ status: "failed", live: false, problem: "no room" });
    expect(replayedLiveness(at6, at6.instances.get("n.3")!)).toBe("unresponsive");
    const end = replayRun(events);
    expect(end.instances.get("n.1")?.live).toBe(false);
    expect(replayedLiveness(end, end.instances.get("n.3")!)).toBe("lost");
    expect(replayRun(events, 0)).toEqual(emptyReplay());
  });
});
