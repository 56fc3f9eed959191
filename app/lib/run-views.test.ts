import { describe, expect, it } from "vitest";
import type { ModuleRecord } from "../../protocol/modules";
import type { InstanceSummary, RunDetail, RunEvent, RunEventBody, RuntimeParam } from "../../protocol/run";
import { instanceViews, mappingLinks, paramGroups } from "./run-views";

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
