import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RunDetail, RunEvent, RuntimeParam } from "../../protocol/run";
import { updateParamGroups } from "./param-groups";
import { foldParams } from "./run-cache";
import { paramGroups } from "./run-views";

const INSTANCES = Array.from({ length: 6 }, (_, k) => `n.${k + 1}`);
const detail = {
  nodes: [{ name: "n", image: "img", multiplicity: 6, cloud: "local" }],
  instances: INSTANCES.map((name, k) => ({ name, node: "n", index: k + 1, live: true })),
} as unknown as RunDetail;
const KEYS = ["ss:abort", "n:count", ...INSTANCES.flatMap((i) => [`${i}:a`, `${i}:b`, `${i}:statecustom`])];

describe("updateParamGroups", () => {
  it("gives paramGroups' groups after every live batch, and new objects only for the groups that changed", () => {
    const write = fc.record({ key: fc.constantFrom(...KEYS, "n.9:late"), value: fc.string({ maxLength: 3 }) });
    fc.assert(
      fc.property(fc.array(fc.array(write, { maxLength: 8 }), { maxLength: 12 }), (batches) => {
        let snapshot = {
          params: KEYS.slice(0, 10).map(
            (key): RuntimeParam => ({
              key,
              value: null,
              category: "output",
              description: "",
              updatedSeq: 0,
            }),
          ),
          lastSeq: 0,
        };
        let seq = 0;
        let grouped = updateParamGroups(null, snapshot.params, detail, "");
        for (const batch of batches) {
          const events = batch.map(
            (w): RunEvent => ({
              runId: "r",
              seq: ++seq,
              at: "2026-01-01T00:00:00.000Z",
              actor: "server",
              body: { type: "param", ...w },
            }),
          );
          const before = grouped;
          snapshot = foldParams(snapshot, events);
          grouped = updateParamGroups(before, snapshot.params, detail, "");
          expect(grouped.groups).toEqual(paramGroups(snapshot.params, detail, ""));
          // no key added: the list kept its layout, so only the groups with a changed parameter are new
          if (snapshot.params.length === before.params.length)
            grouped.groups.forEach((g, k) => {
              const same = g.params.every((p, r) => p === before.groups[k].params[r]);
              if (same && g.params.length === before.groups[k].params.length) expect(g).toBe(before.groups[k]);
              else expect(g).not.toBe(before.groups[k]);
            });
        }
      }),
      { numRuns: 300 },
    );
  });

  it("builds the groups again for a filter, and for a refetched list", () => {
    const params = KEYS.map(
      (key): RuntimeParam => ({ key, value: key, category: "output", description: "", updatedSeq: 1 }),
    );
    const first = updateParamGroups(null, params, detail, "");
    const filtered = updateParamGroups(first, params, detail, "n.2");
    expect(filtered.groups).toEqual(paramGroups(params, detail, "n.2"));
    const refetched = params.map((p) => ({ ...p, value: `${p.value}!` }));
    expect(updateParamGroups(filtered, refetched, detail, "").groups).toEqual(paramGroups(refetched, detail, ""));
  });
});
