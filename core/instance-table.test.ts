import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InstanceTable } from "./instance-table.js";
import type { InstanceInfo } from "./run-context.js";
import { applyRunEvent, createRun } from "./run-machine.js";

const info = (node: string, flags: Partial<InstanceInfo> = {}): InstanceInfo => ({
  node,
  live: true,
  cameUp: false,
  completed: false,
  ...flags,
});

const three = () =>
  InstanceTable.from([
    ["apache.1", info("apache")],
    ["client.1", info("client")],
    ["client.2", info("client")],
  ]);

describe("a run's instance table", () => {
  it("keeps the order instances were added in, and looks them up by name", () => {
    const t = three();
    expect(t.size).toBe(3);
    expect(t.keys()).toEqual(["apache.1", "client.1", "client.2"]);
    expect([...t].map(([name]) => name)).toEqual(["apache.1", "client.1", "client.2"]);
    expect(t.get("client.2")).toEqual(info("client"));
    expect(t.get("client.3")).toBeUndefined();
    expect(t.has("apache.1")).toBe(true);
    expect(t.has("toString")).toBe(false);
  });

  it("is stored and sent as the record it replaced, in the same order", () => {
    const t = three();
    expect(JSON.stringify({ instances: t })).toBe(JSON.stringify({ instances: t.toRecord() }));
    expect(Object.keys(t.toRecord())).toEqual(["apache.1", "client.1", "client.2"]);
    expect(InstanceTable.fromRecord(t.toRecord()).toRecord()).toEqual(t.toRecord());
  });

  it("changing one instance makes a new table that shares every other info, and leaves the old one as it was", () => {
    const t = three();
    const up = t.with("client.1", info("client", { cameUp: true }));
    expect(up.get("client.1")?.cameUp).toBe(true);
    expect(t.get("client.1")?.cameUp).toBe(false);
    expect(up.get("apache.1")).toBe(t.get("apache.1"));
    expect(up.get("client.2")).toBe(t.get("client.2"));
    expect(up.keys()).toBe(t.keys());
    // the same info again is no change
    expect(up.with("client.1", up.get("client.1")!)).toBe(up);
    expect(() => t.with("client.9", info("client"))).toThrow("no instance 'client.9'");
  });

  it("map returns the same table when it changed nothing, and a new one otherwise", () => {
    const t = three();
    expect(t.map((i) => i)).toBe(t);
    const done = t.map((i, name) => (name === "client.2" ? { ...i, completed: true } : i));
    expect(done).not.toBe(t);
    expect(done.get("client.2")?.completed).toBe(true);
    expect(t.get("client.2")?.completed).toBe(false);
    expect(done.get("client.1")).toBe(t.get("client.1"));
  });

  it("instances added go after the others; one already there is replaced in its place", () => {
    const t = three();
    const more = t.withAdded([
      ["client.3", info("client")],
      ["apache.1", info("apache", { live: false })],
    ]);
    expect(more.keys()).toEqual(["apache.1", "client.1", "client.2", "client.3"]);
    expect(more.get("apache.1")?.live).toBe(false);
    expect(t.size).toBe(3);
    expect(t.get("apache.1")?.live).toBe(true);
    expect(t.has("client.3")).toBe(false);
  });

  it("changedSince names the instances whose info a change replaced, all of them against none, none against itself", () => {
    const t = three();
    expect([...t.changedSince(t)]).toEqual([]);
    expect([...t.changedSince(null)].map(([n]) => n)).toEqual(["apache.1", "client.1", "client.2"]);
    // made from `t` in one step, then in two (compared position by position)
    const up = t.with("client.2", info("client", { cameUp: true }));
    expect([...up.changedSince(t)].map(([n]) => n)).toEqual(["client.2"]);
    const next = up.withAdded([["client.3", info("client")]]);
    expect([...next.changedSince(up)].map(([n]) => n)).toEqual(["client.3"]);
    expect([...next.changedSince(t)].map(([n]) => n)).toEqual(["client.2", "client.3"]);
    const reset = next.map((i) => (i.cameUp ? { ...i, cameUp: false } : i));
    expect([...reset.changedSince(next)].map(([n]) => n)).toEqual(["client.2"]);
    // re-added as it was: no change
    expect([...t.withAdded([["client.1", t.get("client.1")!]]).changedSince(t)]).toEqual([]);
    // a table that is not an ancestor (another order, as loaded from elsewhere) is compared by name
    const other = InstanceTable.from([
      ["client.2", t.get("client.2")!],
      ["apache.1", t.get("apache.1")!],
      ["client.1", info("client")],
    ]);
    expect([...t.changedSince(other)].map(([n]) => n)).toEqual(["client.1"]);
  });

  it("its counts of each flag agree with a walk over its instances, through any changes", () => {
    const flags = fc.record({ live: fc.boolean(), cameUp: fc.boolean(), completed: fc.boolean() });
    const name = fc.integer({ min: 1, max: 6 }).map((i) => `n.${i}`);
    const step = fc.oneof(
      fc.record({ op: fc.constant("with" as const), name, flags }),
      fc.record({ op: fc.constant("add" as const), list: fc.array(fc.tuple(name, flags), { maxLength: 4 }) }),
      fc.record({ op: fc.constant("reset" as const) }),
    );
    const query = fc.record({
      live: fc.option(fc.boolean(), { nil: undefined }),
      cameUp: fc.option(fc.boolean(), { nil: undefined }),
      completed: fc.option(fc.boolean(), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 20 }), query, (steps, q) => {
        let t = InstanceTable.EMPTY;
        for (const st of steps) {
          if (st.op === "with" && t.has(st.name)) t = t.with(st.name, { node: "n", ...st.flags });
          if (st.op === "add") t = t.withAdded(st.list.map(([n, f]) => [n, { node: "n", ...f }] as const));
          if (st.op === "reset") t = t.map((i) => (i.completed ? { ...i, completed: false } : i));
        }
        const walked = t
          .values()
          .filter((i) => (Object.keys(q) as (keyof typeof q)[]).every((k) => q[k] === undefined || i[k] === q[k]));
        expect(t.count(q)).toBe(walked.length);
      }),
    );
  });

  it("an agent's transition in a large run replaces its own instance's info and shares the rest", () => {
    const instances = Array.from({ length: 2000 }, (_, i) => ({ name: `client.${i + 1}`, node: "client" }));
    const start = createRun({ instances, keepRunning: "never", scalable: false }).snapshot;
    const r = applyRunEvent(start, { type: "instance.up", instance: "client.1000" });
    expect(r.handled).toBe(true);
    const before = start.context.instances;
    const after = r.snapshot.context.instances;
    expect([...after.changedSince(before)].map(([n]) => n)).toEqual(["client.1000"]);
    expect(after.keys()).toBe(before.keys());
  });
});
