import type { RunEvent, RunState } from "@/protocol/run";

/**
 * Views of a run's event list kept up to date per live batch at the cost of the batch, not of the run: a run of
 * 1,000 instances holds ~40,000 events and the page passed over all of them several times per batch (half a
 * second of main thread at 5,000 writes). Each view is a fold `step(previous, events, from)` over the events from
 * index `from`; the fold of a list that extends one already folded (same objects up to its end, as appendEvents
 * and a replay's cut make them) continues from there. Folds never change a state they were given, so a render
 * holding an older list still sees its own view.
 */
export interface EventFold<S> {
  readonly empty: S;
  step(prev: S, events: readonly RunEvent[], from: number): S;
}

interface Slot {
  list: readonly RunEvent[];
  state: unknown;
}

/** Two lists per fold: the live list and a replayed moment's cut of it may be rendered side by side. */
const SLOTS = 2;
const slots = new WeakMap<EventFold<unknown>, Slot[]>();

/** `list` holds `old` as its first old.length items: the same objects (events are never copied or changed). */
function extendsList(list: readonly RunEvent[], old: readonly RunEvent[]): boolean {
  if (old.length === 0) return true;
  if (list.length < old.length) return false;
  // lists are in seq order without repeats: the same first and last event means the same prefix (a dropped log
  // chunk in between would have moved the last one)
  return list[0] === old[0] && list[old.length - 1] === old[old.length - 1];
}

export function foldEvents<S>(events: readonly RunEvent[], fold: EventFold<S>): S {
  let mine = slots.get(fold as EventFold<unknown>);
  if (!mine) {
    mine = [];
    slots.set(fold as EventFold<unknown>, mine);
  }
  let base: Slot | undefined;
  for (const s of mine) {
    if (s.list === events) return s.state as S;
    if (extendsList(events, s.list) && (!base || s.list.length > base.list.length)) base = s;
  }
  const state = base ? fold.step(base.state as S, events, base.list.length) : fold.step(fold.empty, events, 0);
  mine.unshift({ list: events, state });
  if (mine.length > SLOTS) mine.pop();
  return state;
}

/**
 * An append-only list whose versions share one array: a version is the array's first `length` items, so adding
 * to the newest version costs what is added, and an older version stays as it was.
 */
export interface Appended<T> {
  readonly items: readonly T[];
  readonly length: number;
}

export const NO_ITEMS: Appended<never> = { items: [], length: 0 };

export function append<T>(prev: Appended<T>, add: readonly T[]): Appended<T> {
  if (add.length === 0) return prev;
  // the array already goes on past this version (another list was folded from it): this one gets its own copy
  const items = (prev.items.length === prev.length ? prev.items : prev.items.slice(0, prev.length)) as T[];
  for (const x of add) items.push(x);
  return { items, length: items.length };
}

/** The last `n` items of a version (or all of them), as a plain array. */
export function lastItems<T>(list: Appended<T>, n = list.length): T[] {
  return list.items.slice(Math.max(0, list.length - n), list.length);
}

/** The events of the given types, in order. */
function ofTypes(types: ReadonlySet<string>): EventFold<readonly RunEvent[]> {
  return {
    empty: [],
    step(prev, events, from) {
      let out: RunEvent[] | null = null;
      for (let k = from; k < events.length; k++) {
        if (!types.has(events[k].body.type)) continue;
        out ??= [...prev];
        out.push(events[k]);
      }
      return out ?? prev;
    },
  };
}

/** State transitions (few per run): the timeline and the replay bar. */
export const stateEvents = ofTypes(new Set(["state"]));
/** Scales: report rounds, and whether the scale panel has anything to fold at all. */
export const scaleEvents = ofTypes(new Set(["scale"]));
/** Abort resets: the notice to everyone watching. */
export const abortResetEvents = ofTypes(new Set(["abort-reset"]));

/** How many events of each kind (the events filter's choices). */
export const kindCounts: EventFold<ReadonlyMap<string, number>> = {
  empty: new Map(),
  step(prev, events, from) {
    if (from >= events.length) return prev;
    const next = new Map(prev);
    for (let k = from; k < events.length; k++) {
      const t = events[k].body.type;
      next.set(t, (next.get(t) ?? 0) + 1);
    }
    return next;
  },
};

export interface ListedEvents {
  /** every event the events box may show (log chunks are in the logs panel) */
  all: Appended<RunEvent>;
  /** the same without parameter changes */
  noParams: Appended<RunEvent>;
}

export const listedEvents: EventFold<ListedEvents> = {
  empty: { all: NO_ITEMS, noParams: NO_ITEMS },
  step(prev, events, from) {
    const all: RunEvent[] = [];
    const noParams: RunEvent[] = [];
    for (let k = from; k < events.length; k++) {
      const e = events[k];
      if (e.body.type === "log") continue;
      all.push(e);
      if (e.body.type !== "param") noParams.push(e);
    }
    if (all.length === 0) return prev;
    return { all: append(prev.all, all), noParams: append(prev.noParams, noParams) };
  },
};

export type LogEvent = RunEvent & { body: Extract<RunEvent["body"], { type: "log" }> };
type DroppedBody = Extract<RunEvent["body"], { type: "log-dropped" }>;

export interface InstanceLogs {
  chunks: ReadonlyMap<string, Appended<LogEvent>>;
  /** the latest "bytes dropped" marker per instance */
  dropped: ReadonlyMap<string, DroppedBody>;
}

export const instanceLogs: EventFold<InstanceLogs> = {
  empty: { chunks: new Map(), dropped: new Map() },
  step(prev, events, from) {
    let added: Map<string, LogEvent[]> | null = null;
    let dropped: Map<string, DroppedBody> | null = null;
    for (let k = from; k < events.length; k++) {
      const e = events[k];
      if (e.body.type === "log") {
        added ??= new Map();
        const list = added.get(e.body.instance);
        if (list) list.push(e as LogEvent);
        else added.set(e.body.instance, [e as LogEvent]);
      } else if (e.body.type === "log-dropped") {
        dropped ??= new Map(prev.dropped);
        dropped.set(e.body.instance, e.body);
      }
    }
    if (!added && !dropped) return prev;
    let chunks = prev.chunks;
    if (added) {
      const next = new Map(prev.chunks);
      for (const [instance, list] of added) next.set(instance, append(next.get(instance) ?? NO_ITEMS, list));
      chunks = next;
    }
    return { chunks, dropped: dropped ?? prev.dropped };
  },
};

type InstanceStatus = "starting" | "up" | "down" | "failed" | "removed" | "unresponsive" | "lost";

export interface InstanceProgress {
  /** what each instance's last instance event said (`back` is `up` again) */
  status: ReadonlyMap<string, InstanceStatus>;
  /** the furthest state each instance completed */
  completed: ReadonlyMap<string, RunState>;
  /** `instance state` for each completion since the run's last transition */
  doneSinceTransition: ReadonlySet<string>;
}

export const doneKey = (instance: string, state: RunState) => `${instance} ${state}`;

/** How far each instance got, from its instance events; `order` ranks the run's states. */
export function instanceProgress(order: ReadonlyMap<RunState, number>): EventFold<InstanceProgress> {
  return {
    empty: { status: new Map(), completed: new Map(), doneSinceTransition: new Set() },
    step(prev, events, from) {
      let status: Map<string, InstanceStatus> | null = null;
      let completed: Map<string, RunState> | null = null;
      let done: Set<string> | null = null;
      for (let k = from; k < events.length; k++) {
        const b = events[k].body;
        if (b.type === "state") done = new Set();
        if (b.type !== "instance") continue;
        if (b.status === "completed" && b.state) {
          const was = (completed ?? prev.completed).get(b.instance);
          if (!was || (order.get(b.state) ?? 0) > (order.get(was) ?? 0)) {
            completed ??= new Map(prev.completed);
            completed.set(b.instance, b.state);
          }
          done ??= new Set(prev.doneSinceTransition);
          done.add(doneKey(b.instance, b.state));
        } else if (b.status !== "completed") {
          status ??= new Map(prev.status);
          status.set(b.instance, b.status === "back" ? "up" : b.status);
        }
      }
      if (!status && !completed && !done) return prev;
      return {
        status: status ?? prev.status,
        completed: completed ?? prev.completed,
        doneSinceTransition: done ?? prev.doneSinceTransition,
      };
    },
  };
}
