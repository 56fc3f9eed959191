import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { RunDetail } from "../../protocol/run";
import { RUN_STATES, type RunEvent, type RunEventBody, type RunState } from "../../protocol/run";
import {
  abortResetEvents,
  foldEvents,
  instanceLogs,
  kindCounts,
  lastItems,
  listedEvents,
  scaleEvents,
  stateEvents,
} from "./event-views";
import { appendEvents } from "./run-cache";
import { instanceViews, type RunNodeView, STATE_ORDER } from "./run-views";

const INSTANCES = ["n.1", "n.2", "n.3"];
const STATUSES = ["starting", "up", "down", "completed", "removed", "failed", "unresponsive", "back", "lost"] as const;

const body: fc.Arbitrary<RunEventBody> = fc.oneof(
  fc.constantFrom(...RUN_STATES).map((to): RunEventBody => ({ type: "state", from: null, to })),
  fc
    .record({
      instance: fc.constantFrom(...INSTANCES),
      status: fc.constantFrom(...STATUSES),
      state: fc.option(fc.constantFrom(...RUN_STATES), { nil: undefined }),
    })
    .map((b): RunEventBody => ({ type: "instance", ...b })),
  fc
    .record({ instance: fc.constantFrom(...INSTANCES), data: fc.string({ minLength: 1, maxLength: 40 }) })
    .map((b): RunEventBody => ({ type: "log", target: "deployment", stream: "stdout", ...b })),
  fc
    .record({ instance: fc.constantFrom(...INSTANCES), bytes: fc.nat(), afterSeq: fc.nat() })
    .map((b): RunEventBody => ({ type: "log-dropped", ...b })),
  fc.constantFrom(...INSTANCES).map((i): RunEventBody => ({ type: "param", key: `${i}:p`, value: "v" })),
  fc.constant<RunEventBody>({ type: "abort-reset" }),
  fc.constant<RunEventBody>({ type: "scale", node: "n", added: [], removed: [] }),
);

/** A stream of events cut into live batches, as live.ts folds them. */
const batches = fc.array(fc.array(body, { maxLength: 12 }), { maxLength: 14 });

const toEvents = (bodies: RunEventBody[][]): RunEvent[][] => {
  let seq = 0;
  return bodies.map((b) =>
    b.map((body) => ({ runId: "r", seq: ++seq, at: "2026-01-01T00:00:00.000Z", actor: "server", body })),
  );
};

const detail = (state: RunState): RunDetail =>
  ({
    id: "r",
    state,
    nodes: [{ name: "n", image: "img", multiplicity: 3, cloud: "local" }],
    instances: INSTANCES.map((name, k) => ({
      name,
      node: "n",
      index: k + 1,
      live: true,
      cameUp: false,
      completed: false,
      liveness: "connected",
      unresponsiveSince: null,
    })),
  }) as unknown as RunDetail;

/** What instanceViews computed before it was folded per batch: one pass over the whole list. */
function instanceViewsByPass(d: RunDetail, events: readonly RunEvent[]): RunNodeView[] {
  const status = new Map<string, string>();
  const completed = new Map<string, RunState>();
  const doneCurrent = new Set<string>();
  for (const e of events) {
    const b = e.body;
    if (b.type === "state") doneCurrent.clear();
    if (b.type !== "instance") continue;
    if (b.status === "completed" && b.state) {
      const prev = completed.get(b.instance);
      if (!prev || (STATE_ORDER.get(b.state) ?? 0) > (STATE_ORDER.get(prev) ?? 0)) completed.set(b.instance, b.state);
      if (b.state === d.state) doneCurrent.add(b.instance);
    } else if (b.status === "back") status.set(b.instance, "up");
    else if (b.status !== "completed") status.set(b.instance, b.status);
  }
  return d.nodes.map((n) => ({
    name: n.name,
    image: n.image,
    cloud: n.cloud,
    instances: d.instances.map((i) => ({
      name: i.name,
      node: i.node,
      completed: completed.get(i.name) ?? null,
      status: (status.get(i.name) ?? "pending") as RunNodeView["instances"][number]["status"],
      aborted: false,
      statecustom: null,
      doneCurrent: doneCurrent.has(i.name),
    })),
  }));
}

/** Every view, computed from scratch over `events` with plain passes. */
function byPass(events: readonly RunEvent[]) {
  const kinds = new Map<string, number>();
  for (const e of events) kinds.set(e.body.type, (kinds.get(e.body.type) ?? 0) + 1);
  const chunks = new Map<string, RunEvent[]>();
  const dropped = new Map<string, unknown>();
  for (const e of events) {
    if (e.body.type === "log") chunks.set(e.body.instance, [...(chunks.get(e.body.instance) ?? []), e]);
    if (e.body.type === "log-dropped") dropped.set(e.body.instance, e.body);
  }
  return {
    states: events.filter((e) => e.body.type === "state"),
    scales: events.filter((e) => e.body.type === "scale"),
    resets: events.filter((e) => e.body.type === "abort-reset"),
    kinds,
    listed: events.filter((e) => e.body.type !== "log"),
    listedNoParams: events.filter((e) => e.body.type !== "log" && e.body.type !== "param"),
    chunks,
    dropped,
  };
}

function byFold(events: readonly RunEvent[]) {
  const logs = foldEvents(events, instanceLogs);
  const listed = foldEvents(events, listedEvents);
  return {
    states: [...foldEvents(events, stateEvents)],
    scales: [...foldEvents(events, scaleEvents)],
    resets: [...foldEvents(events, abortResetEvents)],
    kinds: new Map(foldEvents(events, kindCounts)),
    listed: lastItems(listed.all),
    listedNoParams: lastItems(listed.noParams),
    chunks: new Map([...logs.chunks].map(([i, list]) => [i, lastItems(list)])),
    dropped: new Map(logs.dropped),
  };
}

describe("event views folded per batch", () => {
  it("equal a pass over the whole list after every batch, logs dropped over the limit included", () => {
    fc.assert(
      fc.property(
        batches,
        fc.constantFrom(...RUN_STATES),
        fc.integer({ min: 30, max: 400 }),
        (bodies, state, limit) => {
          let list: RunEvent[] = [];
          const seen: RunEvent[][] = [];
          for (const batch of toEvents(bodies)) {
            // a small limit makes appendEvents drop old chunks: the next list no longer extends the last one
            list = appendEvents(list, batch, limit);
            seen.push(list);
            expect(byFold(list)).toEqual(byPass(list));
            expect(instanceViews(detail(state), list, new Map())).toEqual(instanceViewsByPass(detail(state), list));
          }
          // an older list (a render still holding it, a replayed moment's cut) keeps its own views
          for (const old of seen.slice(-3)) expect(byFold(old)).toEqual(byPass(old));
          const cut = list.slice(0, Math.floor(list.length / 2));
          expect(byFold(cut)).toEqual(byPass(cut));
          expect(byFold(list)).toEqual(byPass(list));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("cost what a batch adds: folding 50 events onto a 40,000-event list does not pass over the list", () => {
    const [big] = toEvents([
      Array.from({ length: 40_000 }, (_, k): RunEventBody => ({ type: "param", key: `n.${k % 999}:p`, value: "x" })),
    ]);
    const counted = { n: 0 };
    const fold = {
      empty: 0,
      step(prev: number, events: readonly RunEvent[], from: number) {
        counted.n += events.length - from;
        return prev + events.length - from;
      },
    };
    expect(foldEvents(big, fold)).toBe(40_000);
    const more = appendEvents(
      big,
      big.slice(0, 50).map((e, k) => ({ ...e, seq: 40_001 + k })),
    );
    counted.n = 0;
    expect(foldEvents(more, fold)).toBe(40_050);
    expect(counted.n).toBe(50);
    // the same list again is not folded again
    expect(foldEvents(more, fold)).toBe(40_050);
    expect(counted.n).toBe(50);
  });

  it("keep the views of older lists as they were when a newer one is folded from them", () => {
    const [a, b, c] = toEvents([
      [{ type: "param", key: "n.1:p", value: "1" }],
      [{ type: "state", from: null, to: "Executing" }],
      [{ type: "param", key: "n.1:p", value: "2" }],
    ]);
    const l1 = appendEvents([], a);
    const l2 = appendEvents(l1, b);
    const v1 = foldEvents(l1, listedEvents);
    const v2 = foldEvents(l2, listedEvents);
    // a third list built from the first one again (not from the second): views may not bleed between them
    const l3 = appendEvents(l1, c);
    const v3 = foldEvents(l3, listedEvents);
    expect(lastItems(v1.all).map((e) => e.seq)).toEqual([1]);
    expect(lastItems(v2.all).map((e) => e.seq)).toEqual([1, 2]);
    expect(lastItems(v3.all).map((e) => e.seq)).toEqual([1, 3]);
  });
});
