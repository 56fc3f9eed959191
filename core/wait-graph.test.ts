import { describe, expect, it } from "vitest";
import type { ImageModule } from "../protocol/modules.js";
import type { RunState } from "../protocol/run.js";
import { analyseWaits, type InstanceFact, producerOf, type WaitGraphInput } from "./wait-graph.js";

const image = (parameters: ImageModule["parameters"]): ImageModule => ({ kind: "image", parameters, targets: {} });

/** a and b publish x and y; c takes its input `in` from b's output `y`; d has an unmapped input `free`. */
const NODES: WaitGraphInput["nodes"] = [
  { name: "a", image: image([{ name: "y", category: "output" }]), mappings: {} },
  { name: "b", image: image([{ name: "x", category: "output" }]), mappings: {} },
  { name: "c", image: image([{ name: "in", category: "input" }]), mappings: { in: "b:x" } },
  { name: "d", image: image([{ name: "free", category: "input" }]), mappings: {} },
];

const running = (name: string, extra: Partial<InstanceFact> = {}): InstanceFact => ({
  name,
  live: true,
  completed: false,
  lost: false,
  aborted: false,
  ...extra,
});

function analyse(
  waits: [string, string][],
  instances: InstanceFact[],
  state: RunState = "Executing",
): ReturnType<typeof analyseWaits> {
  return analyseWaits({
    state,
    nodes: NODES,
    instances,
    waits: waits.map(([instance, key], i) => ({ instance, key, since: 1000 + i })),
  });
}

describe("producerOf", () => {
  it("an output is set by its instance, a mapped input by the mapped output's first instance", () => {
    expect(producerOf("b.1:x", NODES)).toEqual({ to: "b.1", producer: "instance", via: null });
    expect(producerOf("c.3:in", NODES)).toEqual({ to: "b.1", producer: "instance", via: "b.1:x" });
  });

  it("an unmapped input is set by a person, a key only the server writes by the server", () => {
    expect(producerOf("d.1:free", NODES).producer).toBe("person");
    expect(producerOf("b.1:complete", NODES).producer).toBe("server");
    expect(producerOf("b:multiplicity", NODES).producer).toBe("server");
    expect(producerOf("ss:abort", NODES).producer).toBe("server");
  });
});

describe("analyseWaits", () => {
  it("a two-instance cycle is a deadlock naming both instances and both keys", () => {
    const { edges, diagnosis } = analyse(
      [
        ["a.1", "b.1:x"],
        ["b.1", "a.1:y"],
      ],
      [running("a.1"), running("b.1")],
    );
    expect(edges.map((e) => `${e.from}->${e.to} ${e.key}`)).toEqual(["a.1->b.1 b.1:x", "b.1->a.1 a.1:y"]);
    expect(diagnosis?.kind).toBe("deadlock");
    expect(diagnosis?.instances.sort()).toEqual(["a.1", "b.1"]);
    expect(diagnosis?.keys.sort()).toEqual(["a.1:y", "b.1:x"]);
    expect(diagnosis?.sentence).toBe(
      "Deadlock: a.1 waits for b.1:x and b.1 waits for a.1:y, and no other instance can set them.",
    );
  });

  it("no deadlock while another instance still runs (it may set a key), nor while a person may set one", () => {
    const cycle: [string, string][] = [
      ["a.1", "b.1:x"],
      ["b.1", "a.1:y"],
    ];
    expect(analyse(cycle, [running("a.1"), running("b.1"), running("d.1")]).diagnosis).toBeNull();
    expect(analyse(cycle, [running("a.1"), running("b.1"), running("d.1", { completed: true })]).diagnosis?.kind).toBe(
      "deadlock",
    );
    expect(
      analyse([...cycle, ["d.1", "d.1:free"]], [running("a.1"), running("b.1"), running("d.1")]).diagnosis,
    ).toBeNull();
  });

  it("a wait on an instance that finished its script is a dead producer, even while others run", () => {
    const { diagnosis } = analyse(
      [["c.1", "c.1:in"]],
      [running("b.1", { completed: true }), running("c.1"), running("a.1")],
    );
    expect(diagnosis).toEqual({
      kind: "dead-producer",
      sentence: "c.1 waits for c.1:in (set from b.1:x), but b.1 finished its execute without setting it.",
      instances: ["c.1", "b.1"],
      keys: ["c.1:in", "b.1:x"],
    });
  });

  it("a producer lost, gone or aborted is dead too; one that is only running is not", () => {
    const wait: [string, string][] = [["a.1", "b.1:x"]];
    expect(analyse(wait, [running("a.1"), running("b.1", { lost: true, live: false })]).diagnosis?.sentence).toBe(
      "a.1 waits for b.1:x, but b.1 was lost without setting it.",
    );
    expect(analyse(wait, [running("a.1"), running("b.1", { live: false })]).diagnosis?.sentence).toContain(
      "b.1 has left the run",
    );
    expect(analyse(wait, [running("a.1"), running("b.1", { aborted: true })]).diagnosis?.sentence).toContain(
      "b.1 aborted",
    );
    expect(analyse(wait, [running("a.1"), running("b.1")]).diagnosis).toBeNull();
  });

  it("several waits on one dead producer make one clause; waits of the same key are one edge from the oldest", () => {
    const { edges, diagnosis } = analyse(
      [
        ["a.1", "b.1:x"],
        ["c.1", "c.1:in"],
        ["a.1", "b.1:x"],
      ],
      [running("a.1"), running("b.1", { completed: true }), running("c.1")],
    );
    expect(edges).toHaveLength(2);
    expect(edges[0].since).toBe(1000);
    expect(diagnosis?.sentence).toBe(
      "a.1 waits for b.1:x and c.1 waits for c.1:in (set from b.1:x), but b.1 finished its execute without setting them.",
    );
  });

  it("outside the states that wait for every script, waits are drawn but not diagnosed", () => {
    const dead: [string, string][] = [["a.1", "b.1:x"]];
    const insts = [running("a.1"), running("b.1", { completed: true })];
    expect(analyse(dead, insts, "Ready").diagnosis).toBeNull();
    expect(analyse(dead, insts, "Ready").edges).toHaveLength(1);
    expect(analyse(dead, insts, "SendingReports").diagnosis?.sentence).toContain("finished its report");
  });

  it("waits of instances no longer in the run are not drawn", () => {
    expect(analyse([["a.1", "b.1:x"]], [running("a.1", { live: false }), running("b.1")]).edges).toEqual([]);
  });
});
