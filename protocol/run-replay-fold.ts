/**
 * A run as it was at one event: folded from its event log alone, so any moment of any run can be shown again
 * (the run page's time slider), two finished runs compared (core/run-diff.ts), and a snapshot file replayed in the
 * browser with no server behind it. Pure: the caller reads the events (a page at a time) and feeds them in order.
 * It lives in protocol because the browser folds a snapshot's events with it (the app may not import core code);
 * core/run-replay.ts re-exports it for the server.
 */
import { type RunEvent, type RunState, TERMINAL_STATES } from "./run";

const isTerminal = (state: RunState) => TERMINAL_STATES.includes(state);

type InstanceBody = Extract<RunEvent["body"], { type: "instance" }>;
export type ReplayInstanceStatus = "pending" | Exclude<InstanceBody["status"], "completed" | "back">;

export interface ReplayInstance {
  name: string;
  node: string;
  /** the last machine/agent status its events recorded ("back" shows as up) */
  status: ReplayInstanceStatus;
  /** not removed by a scale, not failed, not lost (as the run machine's `live`) */
  live: boolean;
  cameUp: boolean;
  /** completed the run's state of that moment */
  completedCurrent: boolean;
  /** when it completed each state (ISO), in the order it did */
  completedAt: Partial<Record<RunState, string>>;
  /** the message of the abort it raised itself, or the detail of its failure */
  problem: string | null;
  /** when its machine was asked for, and when its agent first came up (ISO) */
  startedAt: string | null;
  upAt: string | null;
  logDropped: number;
}

export interface ReplayReport {
  name: string;
  instance: string | null;
  size: number;
  at: string;
}

export interface StateSpan {
  state: RunState;
  from: string;
  /** null while the run is still in it (at the replayed moment) */
  to: string | null;
}

export interface ReplayState {
  /** the seq of the last event folded in (0 before any) */
  seq: number;
  /** when that event happened (ISO) */
  at: string | null;
  createdAt: string | null;
  module: string | null;
  state: RunState | null;
  abort: string | null;
  recoveryMode: boolean;
  /** keep-running kept its machines up in Ready */
  kept: boolean;
  instances: Map<string, ReplayInstance>;
  /** parameter values as set so far (a declared parameter with no value has no entry) */
  params: Map<string, { value: string | null; seq: number }>;
  /** by name: an upload of the same name replaces the earlier one */
  reports: Map<string, ReplayReport>;
  states: StateSpan[];
}

export function emptyReplay(): ReplayState {
  return {
    seq: 0,
    at: null,
    createdAt: null,
    module: null,
    state: null,
    abort: null,
    recoveryMode: false,
    kept: false,
    instances: new Map(),
    params: new Map(),
    reports: new Map(),
    states: [],
  };
}

function addInstance(s: ReplayState, name: string): void {
  if (s.instances.has(name)) return;
  s.instances.set(name, {
    name,
    node: name.slice(0, name.lastIndexOf(".")),
    status: "pending",
    live: true,
    cameUp: false,
    completedCurrent: false,
    completedAt: {},
    problem: null,
    startedAt: null,
    upAt: null,
    logDropped: 0,
  });
}

function applyInstance(s: ReplayState, b: InstanceBody, at: string): void {
  addInstance(s, b.instance);
  const i = s.instances.get(b.instance)!;
  switch (b.status) {
    case "completed":
      i.cameUp = true;
      if (b.state) {
        i.completedAt[b.state] ??= at;
        if (b.state === s.state) i.completedCurrent = true;
      }
      return;
    case "back":
      i.status = "up";
      return;
    case "starting":
      i.startedAt ??= at;
      break;
    case "up":
      i.cameUp = true;
      i.upAt ??= at;
      break;
    case "failed":
      i.live = false;
      i.problem ??= b.detail ?? "failed";
      break;
    case "removed":
    case "lost":
      i.live = false;
      break;
  }
  i.status = b.status;
}

/** Folds one event into `s` (in place: a run's log is long, and folded a page at a time). */
export function applyEvent(s: ReplayState, e: RunEvent): void {
  s.seq = e.seq;
  s.at = e.at;
  const b = e.body;
  switch (b.type) {
    case "created":
      s.createdAt ??= e.at;
      s.module = b.module;
      for (const name of b.instances) addInstance(s, name);
      return;
    case "state": {
      const open = s.states.at(-1);
      if (open && open.to === null) open.to = e.at;
      s.states.push({ state: b.to, from: e.at, to: isTerminal(b.to) ? e.at : null });
      s.state = b.to;
      for (const i of s.instances.values()) i.completedCurrent = false;
      return;
    }
    case "param":
      s.params.set(b.key, { value: b.value, seq: e.seq });
      return;
    case "abort":
      if (b.first || s.abort === null) s.abort = b.message;
      if (b.instance) {
        addInstance(s, b.instance);
        s.instances.get(b.instance)!.problem ??= b.message;
      }
      return;
    case "abort-reset":
      s.abort = null;
      return;
    case "recovery-mode":
      s.recoveryMode = b.on;
      return;
    case "kept":
      s.kept = true;
      return;
    case "scale":
      for (const name of b.added) addInstance(s, name);
      for (const name of b.removed) {
        const i = s.instances.get(name);
        if (i) i.live = false;
      }
      return;
    case "instance":
      applyInstance(s, b, e.at);
      return;
    case "log-dropped": {
      const i = s.instances.get(b.instance);
      if (i) i.logDropped = b.bytes;
      return;
    }
    case "report":
      s.reports.set(b.name, { name: b.name, instance: b.instance, size: b.size, at: e.at });
      return;
    default:
      return;
  }
}

/** The run as it was just after event `at` (every event when `at` is omitted). */
export function replayRun(events: Iterable<RunEvent>, at = Number.POSITIVE_INFINITY): ReplayState {
  const s = emptyReplay();
  for (const e of events) {
    if (e.seq > at) break;
    applyEvent(s, e);
  }
  return s;
}

/** I2 liveness as the replayed moment shows it: from recorded events only (no live connection to ask). */
export function replayedLiveness(
  s: ReplayState,
  i: ReplayInstance,
): "waiting" | "connected" | "unresponsive" | "lost" | "ended" {
  if (i.status === "lost") return "lost";
  if ((s.state && isTerminal(s.state)) || !i.live || i.status === "down") return "ended";
  if (i.status === "unresponsive") return "unresponsive";
  return i.cameUp ? "connected" : "waiting";
}
