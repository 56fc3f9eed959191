import { describe, expect, it } from "vitest";
import type { ModuleRecord } from "../../protocol/modules";
import type { InstanceSummary, RunDetail, RunEvent, RunEventBody, RuntimeParam } from "../../protocol/run";
import {
  instanceViews,
  MAX_SCALE_ADD,
  mappingLinks,
  paramGroups,
  parseAddCount,
  removeIds,
  scaleCycles,
  survivorHook,
} from "./run-views";

const instance = (name: string, over: Partial<InstanceSummary> = {}): InstanceSummary => {
  const [node, index] = name.split(".");
  return {
    name,
    node,
    index: Number(index),
    cloud: "local",
    live: true,
    cameUp: false,
    completed: false,
    workspace: null,
    login: null,
    logDropped: 0,
    liveness: "waiting",
    unresponsiveSince: null,
    ...over,
  };
};

const detail = (over: Partial<RunDetail> = {}): RunDetail => ({
  id: "r1",
  module: "examples/tutorials/service-testing/system",
  owner: "alice",
  state: "Executing",
  abort: null,
  recoveryMode: false,
  keepRunning: "always",
  scalable: false,
  tags: [],
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
  lastSeq: 10,
  allowed: [],
  instances: [instance("client.2"), instance("apache.1"), instance("client.1")],
  nodes: [
    { name: "apache", image: "examples/tutorials/service-testing/apache", multiplicity: 1, cloud: "local" },
    { name: "client", image: "examples/tutorials/service-testing/client", multiplicity: 2, cloud: "local" },
  ],
  deadline: null,
  timeoutMinutes: 60,
  sshKeys: [],
  ...over,
});

let seq = 0;
const ev = (body: RunEventBody): RunEvent => ({
  runId: "r1",
  seq: ++seq,
  at: "2026-01-01T00:00:00.000Z",
  actor: "server",
  body,
});

const param = (key: string, value: string | null): RuntimeParam => ({
  key,
  value,
  category: "output",
  description: "",
  updatedSeq: 1,
});

describe("instanceViews", () => {
  it("groups instances by node in index order, with the furthest state each completed and who completed the current one", () => {
    const events = [
      ev({ type: "state", from: "Initializing", to: "Provisioning" }),
      ev({ type: "instance", instance: "apache.1", status: "up" }),
      ev({ type: "instance", instance: "apache.1", status: "completed", state: "Provisioning" }),
      ev({ type: "instance", instance: "client.1", status: "completed", state: "Provisioning" }),
      ev({ type: "state", from: "Provisioning", to: "Executing" }),
      ev({ type: "instance", instance: "apache.1", status: "completed", state: "Executing" }),
    ];
    const views = instanceViews(detail(), events, new Map());
    expect(views.map((n) => [n.name, n.instances.map((i) => i.name)])).toEqual([
      ["apache", ["apache.1"]],
      ["client", ["client.1", "client.2"]],
    ]);
    const [apache, client1, client2] = views.flatMap((n) => n.instances);
    expect(apache).toMatchObject({ status: "up", completed: "Executing", doneCurrent: true });
    // completing Provisioning does not count for Executing: the state event cleared it
    expect(client1).toMatchObject({ status: "pending", completed: "Provisioning", doneCurrent: false });
    expect(client2).toMatchObject({ status: "pending", completed: null, doneCurrent: false });
  });

  it("takes liveness from the detail first (lost, removed, unresponsive), then the instance events, then cameUp", () => {
    const d = detail({
      instances: [
        instance("apache.1", { liveness: "lost", live: false }),
        instance("client.1", { live: false }),
        instance("client.2", { liveness: "unresponsive", cameUp: true }),
      ],
    });
    const events = [ev({ type: "instance", instance: "client.2", status: "starting" })];
    expect(instanceViews(d, events, new Map()).flatMap((n) => n.instances.map((i) => i.status))).toEqual([
      "lost",
      "removed",
      "unresponsive",
    ]);
    const back = [
      ev({ type: "instance", instance: "apache.1", status: "unresponsive" }),
      ev({ type: "instance", instance: "apache.1", status: "back" }),
      ev({ type: "instance", instance: "client.1", status: "failed" }),
    ];
    const fresh = detail({
      instances: [instance("apache.1"), instance("client.1"), instance("client.2", { cameUp: true })],
    });
    expect(instanceViews(fresh, back, new Map()).flatMap((n) => n.instances.map((i) => i.status))).toEqual([
      "up",
      "failed",
      "up",
    ]);
  });

  it("reads each instance's abort flag and statecustom from the parameters", () => {
    const params = new Map([
      ["client.1:abort", param("client.1:abort", "cannot reach apache")],
      ["client.1:statecustom", param("client.1:statecustom", "retrying")],
      ["client.2:abort", param("client.2:abort", null)],
    ]);
    const [, client1, client2] = instanceViews(detail(), [], params).flatMap((n) => n.instances);
    expect(client1).toMatchObject({ aborted: true, statecustom: "retrying" });
    expect(client2).toMatchObject({ aborted: false, statecustom: null });
  });
});

describe("mappingLinks", () => {
  const module = (nodes: Record<string, Record<string, string>>): ModuleRecord => ({
    path: "examples/tutorials/service-testing/system",
    kind: "deployment",
    owner: "alice",
    version: 1,
    updatedAt: "2026-01-01T00:00:00.000Z",
    doc: {
      kind: "deployment",
      nodes: Object.fromEntries(
        Object.entries(nodes).map(([name, mappings]) => [name, { image: name, multiplicity: 1, mappings }]),
      ),
    },
  });

  it("makes one link per pair of nodes from output mappings, ignoring literals and nodes the run does not have", () => {
    const m = module({
      apache: {},
      client: { webserver_hostname: "apache:hostname", webserver_port: "apache:port", greeting: "'hello'" },
      monitor: { target: "apache:hostname" },
    });
    expect(mappingLinks(m, detail())).toEqual([{ from: "apache", to: "client", inputs: ["hostname", "port"] }]);
  });

  it("has no links without a deployment", () => {
    expect(mappingLinks(undefined, detail())).toEqual([]);
  });
});

describe("paramGroups", () => {
  const params = [
    param("client.1:statecustom", "ok"),
    param("apache:port", "80"),
    param("ss:abort", null),
    param("apache.1:hostname", "10.0.0.1"),
    param("client.2:statecustom", "waiting"),
    param("old.1:hostname", "gone"),
  ];

  it("puts the global parameters first, then each node followed by its instances, then owners the run no longer lists", () => {
    expect(paramGroups(params, detail(), "").map((g) => [g.id, g.title, g.kind, g.params.length])).toEqual([
      ["ss", "Global", "global", 1],
      ["apache", "Node apache", "node", 1],
      ["apache.1", "apache.1", "instance", 1],
      ["client.1", "client.1", "instance", 1],
      ["client.2", "client.2", "instance", 1],
      ["old.1", "old.1", "instance", 1],
    ]);
  });

  it("filters on keys and values, case-insensitively, and drops groups left empty", () => {
    expect(paramGroups(params, detail(), " WAIT ").map((g) => g.params.map((p) => p.key))).toEqual([
      ["client.2:statecustom"],
    ]);
    expect(paramGroups(params, detail(), "hostname").map((g) => g.id)).toEqual(["apache.1", "old.1"]);
  });
});

describe("parseAddCount", () => {
  it("takes a whole number from 1 to the bound, with or without the CLI's +", () => {
    expect(parseAddCount("2")).toEqual({ add: 2 });
    expect(parseAddCount(" +3 ")).toEqual({ add: 3 });
    expect(parseAddCount(String(MAX_SCALE_ADD))).toEqual({ add: MAX_SCALE_ADD });
  });

  it("refuses what the CLI refuses, saying why", () => {
    for (const bad of ["", "0", "-1", "1.5", "two", "1e3"])
      expect(parseAddCount(bad)).toEqual({ problem: `'${bad}' must be a whole number of instances to add, from 1` });
    expect(parseAddCount("1001")).toEqual({ problem: "'+1001' adds at most 1000 instances" });
  });
});

describe("removeIds", () => {
  it("takes the ids of the node's selected instances, each once, in order", () => {
    expect(removeIds("client", ["client.4", "client.2", "client.4", "apache.1"])).toEqual({ remove: [2, 4] });
    expect(removeIds("my.node", ["my.node.3"])).toEqual({ remove: [3] });
  });

  it("asks for a selection when there is none of the node's", () => {
    expect(removeIds("client", [])).toEqual({ problem: "select the instances to remove" });
    expect(removeIds("client", ["apache.1"])).toEqual({ problem: "select the instances to remove" });
  });
});

describe("scaleCycles", () => {
  const log = (instance: string, target: string, data: string) =>
    ev({ type: "log", instance, target, stream: target === "agent" ? "agent" : "stdout", data });
  type StateBody = Extract<RunEventBody, { type: "state" }>;
  const state = (from: StateBody["from"], to: StateBody["to"]) => ev({ type: "state", from, to });

  it("has none before the first scale", () => {
    expect(scaleCycles([ev({ type: "created", module: "m", instances: ["client.1"] })])).toEqual([]);
  });

  it("shows per instance what ran where: hooks on survivors, full recipes on new ones, prescale and report on removed ones", () => {
    const events = [
      ev({ type: "created", module: "m", instances: ["apache.1", "client.1", "client.2"] }),
      log("client.1", "execute", "before any scale\n"),
      state("SendingReports", "Ready"),
      // grow client by 2
      { ...ev({ type: "scale", node: "client", added: ["client.3", "client.4"], removed: [] }), actor: "user:alice" },
      state("Ready", "Provisioning"),
      ev({ type: "instance", instance: "client.3", status: "starting" }),
      ev({ type: "instance", instance: "client.3", status: "up" }),
      state("Provisioning", "Executing"),
      log("client.1", "agent", "[agent] Running target onvmadd\n"),
      log("client.1", "onvmadd", "vm_create client.3 client.4\n"),
      log("client.1", "agent", "[agent] Target onvmadd finished: exit code 0\n"),
      log("apache.1", "agent", "[agent] Running target onvmadd\n[agent] Target onvmadd finished: exit code 3\n"),
      log("client.3", "agent", "[agent] Running target execute\n"),
      log("client.3", "execute", "hello\n"),
      state("Executing", "SendingReports"),
      log("client.3", "agent", "[agent] Target execute finished: exit code 0\n[agent] Running target report\n"),
      ev({ type: "report", name: "client.3_report.tgz", size: 10, instance: "client.3" }),
      state("SendingReports", "Ready"),
      log("client.1", "agent", "[agent] Running target onvmadd\n"), // after the cycle ended: still its cycle's log
      // shrink: remove client.2
      // the scale's transaction records the state change first
      state("Ready", "Provisioning"),
      ev({ type: "scale", node: "client", added: [], removed: ["client.2"] }),
      log("client.2", "agent", "[agent] Running target prescale\n[agent] Target prescale finished: exit code 1\n"),
      log("client.2", "agent", "[agent] prescale failed (not fatal): no such file\n"),
      log("client.2", "agent", "[agent] Running target report\n"),
      ev({ type: "report", name: "client.2_report.tgz", size: 10, instance: "client.2" }),
      ev({ type: "instance", instance: "client.2", status: "removed" }),
      state("Provisioning", "Executing"),
      log("client.4", "agent", "[agent] Running target onvmremove\n"),
    ];
    const cycles = scaleCycles(events, ["apache", "client"]);
    expect(cycles).toHaveLength(2);
    const [grow, shrink] = cycles;
    expect(grow).toMatchObject({ node: "client", added: ["client.3", "client.4"], removed: [], actor: "user:alice" });
    expect(grow.finished).toBe(true);
    expect(grow.states.map((s) => s.state)).toEqual(["Provisioning", "Executing", "SendingReports", "Ready"]);
    expect(survivorHook(grow)).toBe("onvmadd");
    expect(grow.instances.map((i) => [i.name, i.role])).toEqual([
      ["apache.1", "survivor"],
      ["client.1", "survivor"],
      ["client.2", "survivor"],
      ["client.3", "added"],
      ["client.4", "added"],
    ]);
    const by = (c: typeof grow, name: string) => c.instances.find((i) => i.name === name)!;
    expect(by(grow, "client.1").targets).toEqual([
      { target: "onvmadd", outcome: "ok", detail: null },
      { target: "onvmadd", outcome: "running", detail: null },
    ]);
    expect(by(grow, "apache.1").targets).toEqual([{ target: "onvmadd", outcome: "failed", detail: "exit code 3" }]);
    expect(by(grow, "client.3")).toMatchObject({
      status: "up",
      reported: true,
      targets: [
        { target: "execute", outcome: "ok", detail: null },
        { target: "report", outcome: "running", detail: null },
      ],
    });
    expect(by(grow, "client.4")).toMatchObject({ status: null, reported: false, targets: [] });

    expect(shrink.finished).toBe(false);
    expect(shrink.states.map((s) => s.state)).toEqual(["Provisioning", "Executing"]);
    expect(survivorHook(shrink)).toBe("onvmremove");
    expect(shrink.instances.map((i) => [i.name, i.role])).toEqual([
      ["apache.1", "survivor"],
      ["client.1", "survivor"],
      ["client.2", "removed"],
      ["client.3", "survivor"],
      ["client.4", "survivor"],
    ]);
    expect(by(shrink, "client.2")).toMatchObject({
      status: "removed",
      reported: true,
      targets: [
        { target: "prescale", outcome: "failed", detail: "no such file" },
        { target: "report", outcome: "running", detail: null },
      ],
    });
    expect(by(shrink, "client.4").targets).toEqual([{ target: "onvmremove", outcome: "running", detail: null }]);
  });

  it("leaves lost instances out of the survivors", () => {
    const cycles = scaleCycles([
      ev({ type: "created", module: "m", instances: ["a.1", "a.2"] }),
      ev({ type: "instance", instance: "a.2", status: "lost" }),
      ev({ type: "scale", node: "a", added: ["a.3"], removed: [] }),
    ]);
    expect(cycles[0].instances.map((i) => i.name)).toEqual(["a.1", "a.3"]);
  });
});
