import { describe, expect, it } from "vitest";
import type { ReportInfo, RunEvent, RunEventBody } from "../../protocol/run";
import {
  eventInstance,
  eventKinds,
  filterEvents,
  NO_EVENT_FILTER,
  reportGroups,
  scaleTimes,
  searchInstances,
  TILE_THRESHOLD,
  tileGroups,
  usesTiles,
} from "./large-run";
import type { InstanceView, RunNodeView } from "./run-views";

const inst = (name: string, over: Partial<InstanceView> = {}): InstanceView => ({
  name,
  node: name.slice(0, name.lastIndexOf(".")),
  completed: "Ready",
  status: "up",
  aborted: false,
  statecustom: null,
  doneCurrent: true,
  ...over,
});

const node = (name: string, instances: InstanceView[]): RunNodeView => ({
  name,
  image: `p/${name}`,
  cloud: "local",
  instances,
});

const many = (n: string, count: number, over: (k: number) => Partial<InstanceView> = () => ({})) =>
  Array.from({ length: count }, (_, k) => inst(`${n}.${k + 1}`, over(k + 1)));

let seq = 0;
const ev = (body: RunEventBody, actor = "server", at = "2026-01-01T00:00:00.000Z"): RunEvent => ({
  runId: "r1",
  seq: ++seq,
  at,
  actor,
  body,
});

describe("usesTiles", () => {
  it("keeps the diagram up to the threshold per node and switches to tiles above it", () => {
    expect(usesTiles([node("a", many("a", TILE_THRESHOLD)), node("b", many("b", 3))])).toBe(false);
    expect(usesTiles([node("a", many("a", 1)), node("b", many("b", TILE_THRESHOLD + 1))])).toBe(true);
  });
});

describe("tileGroups", () => {
  it("counts each node's instances per state in words, and puts failed, lost and unresponsive tiles first", () => {
    const clients = many("client", 60, (k) =>
      k === 17 || k === 42
        ? { status: "failed", completed: "Provisioning", statecustom: k === 42 ? "curl: (7) refused" : null }
        : k === 5
          ? { status: "lost" }
          : k === 9
            ? { status: "unresponsive" }
            : {},
    );
    const [apache, client] = tileGroups([node("apache", [inst("apache.1")]), node("client", clients)]);
    expect(apache.summary).toBe("1 ready");
    expect(client.summary).toBe("56 ready · 1 not answering · 1 agent lost · 2 failed");
    expect(client.tiles.slice(0, 5).map((t) => t.name)).toEqual([
      "client.17",
      "client.42",
      "client.5",
      "client.9",
      "client.1",
    ]);
    // the rest in index order, numerically (client.10 after client.8, not after client.1)
    expect(client.tiles.slice(4, 9).map((t) => t.index)).toEqual([1, 2, 3, 4, 6]);
    expect(client.tiles.find((t) => t.name === "client.42")?.label).toBe("client.42: failed — curl: (7) refused");
    expect(client.tiles).toHaveLength(60);
  });

  it("marks an instance that aborted the run as failed even when its status is still up", () => {
    const [g] = tileGroups([node("c", [inst("c.1"), inst("c.2", { aborted: true, completed: null })])]);
    expect(g.tiles.map((t) => [t.name, t.tone])).toEqual([
      ["c.2", "failed"],
      ["c.1", "done-Ready"],
    ]);
    expect(g.summary).toBe("1 ready · 1 failed");
  });

  it("shows progress words for instances still on their way", () => {
    const [g] = tileGroups([
      node("n", [
        inst("n.1", { completed: null, status: "pending" }),
        inst("n.2", { completed: null, status: "starting" }),
        inst("n.3", { completed: "Executing" }),
        inst("n.4", { completed: "Executing" }),
      ]),
    ]);
    expect(g.summary).toBe("1 waiting · 1 starting · 2 executed");
  });
});

describe("events", () => {
  const events = [
    ev({ type: "state", from: "Initializing", to: "Provisioning" }),
    ev({ type: "instance", instance: "client.12", status: "up" }),
    ev({ type: "param", key: "client.1:statecustom", value: "downloading" }, "node:client.1"),
    ev({ type: "param", key: "client.12:statecustom", value: "downloading" }, "node:client.12"),
    ev({ type: "abort", message: "client.12 could not reach apache", instance: null, first: true }, "node:client.12"),
    ev({ type: "log", instance: "client.12", target: "execute", stream: "stdout", data: "x" }),
  ] as RunEvent[];
  const describeIt = (e: RunEvent) => JSON.stringify(e.body);

  it("tells which instance an event is about: named in its body, the parameter's owner, or the agent that sent it", () => {
    expect(events.map(eventInstance)).toEqual([null, "client.12", "client.1", "client.12", "client.12", "client.12"]);
  });

  it("filters by exact instance (client.1 is not client.12), by kind and by text, all together", () => {
    const seqs = (f: Partial<typeof NO_EVENT_FILTER>) =>
      filterEvents(events, { ...NO_EVENT_FILTER, ...f }, describeIt).map((e) => e.seq - events[0].seq);
    expect(seqs({})).toEqual([0, 1, 2, 3, 4, 5]);
    expect(seqs({ instance: "client.1" })).toEqual([2]);
    expect(seqs({ instance: "client.12" })).toEqual([1, 3, 4, 5]);
    expect(seqs({ instance: "client.12", kind: "param" })).toEqual([3]);
    expect(seqs({ text: "  COULD NOT " })).toEqual([4]);
    expect(seqs({ kind: "param", text: "node:client.1" })).toEqual([2, 3]);
    expect(seqs({ kind: "stuck" })).toEqual([]);
  });

  it("lists the kinds present with their counts", () => {
    expect(eventKinds(events)).toEqual([
      { kind: "abort", n: 1 },
      { kind: "instance", n: 1 },
      { kind: "log", n: 1 },
      { kind: "param", n: 2 },
      { kind: "state", n: 1 },
    ]);
  });
});

describe("searchInstances", () => {
  const names = ["apache.1", ...Array.from({ length: 60 }, (_, k) => `client.${k + 1}`)];
  it("puts the exact name first, then names starting with the text, then names holding it", () => {
    expect(searchInstances(names, "client.1").slice(0, 4)).toEqual(["client.1", "client.10", "client.11", "client.12"]);
    expect(searchInstances(names, "client.1")).toHaveLength(11);
    expect(searchInstances(names, "ache")).toEqual(["apache.1"]);
    expect(searchInstances(names, ".5")).toEqual([
      "client.5",
      "client.50",
      "client.51",
      "client.52",
      "client.53",
      "client.54",
      "client.55",
      "client.56",
      "client.57",
      "client.58",
      "client.59",
    ]);
    expect(searchInstances(names, " ")).toHaveLength(61);
    expect(searchInstances(names, "nope")).toEqual([]);
  });
});

describe("reportGroups", () => {
  const r = (name: string, instance: string | null, createdAt: string): ReportInfo => ({
    name,
    instance,
    size: 100,
    createdAt,
  });
  const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
  const reports = [
    r("client.23_report_a.tgz", "client.23", t(1)),
    r("orchestrator_report_a.tgz", null, t(9)),
    r("client.3_report_a.tgz", "client.3", t(2)),
    r("apache.1_report_a.tgz", "apache.1", t(3)),
    r("client.3_report_b.tgz", "client.3", t(6)),
    r("client.24_report_a.tgz", "client.24", t(7)),
  ];
  const scales = scaleTimes([ev({ type: "scale", node: "client", added: ["client.24"], removed: [] }, "alice", t(5))]);

  it("groups by instance in the run's order (numeric index), the orchestrator last, each oldest first", () => {
    const groups = reportGroups(reports, ["apache", "client"], scales, "instance");
    expect(groups.map((g) => [g.title, g.reports.map((x) => `${x.name}@${x.round}`)])).toEqual([
      ["apache.1", ["apache.1_report_a.tgz@0"]],
      ["client.3", ["client.3_report_a.tgz@0", "client.3_report_b.tgz@1"]],
      ["client.23", ["client.23_report_a.tgz@0"]],
      ["client.24", ["client.24_report_a.tgz@1"]],
      ["orchestrator", ["orchestrator_report_a.tgz@1"]],
    ]);
  });

  it("groups by scale round, the launch's first, instances in order within each", () => {
    const groups = reportGroups(reports, ["apache", "client"], scales, "round");
    expect(groups.map((g) => [g.title, g.reports.map((x) => x.name)])).toEqual([
      ["Launch", ["apache.1_report_a.tgz", "client.3_report_a.tgz", "client.23_report_a.tgz"]],
      ["Scale round 1", ["client.3_report_b.tgz", "client.24_report_a.tgz", "orchestrator_report_a.tgz"]],
    ]);
  });
});
