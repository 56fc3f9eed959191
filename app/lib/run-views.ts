import type { DeploymentModule, ModuleRecord } from "@/protocol/modules";
import type { RunDetail, RunEvent, RunState, RuntimeParam } from "@/protocol/run";
// a relative path for the one value import: vitest does not resolve the "@/" alias
import { RUN_STATES, TERMINAL_STATES } from "../../protocol/run";
import { doneKey, foldEvents, instanceProgress } from "./event-views";
import { parseMapping } from "./modules";

/**
 * What the run page shows, derived from the run's REST snapshots and its events: pure functions, so they are
 * tested without a browser.
 */

export const STATE_ORDER: ReadonlyMap<RunState, number> = new Map(RUN_STATES.map((s, i) => [s, i]));

export interface InstanceView {
  name: string;
  node: string;
  /** the furthest state the instance completed */
  completed: RunState | null;
  /** unresponsive: its agent stopped answering, within the run's grace; lost: past it (run-rules R19) */
  status: "pending" | "starting" | "up" | "down" | "failed" | "removed" | "unresponsive" | "lost";
  aborted: boolean;
  statecustom: string | null;
  /** completed the run's current state */
  doneCurrent: boolean;
}

export interface RunNodeView {
  name: string;
  image: string;
  cloud: string;
  instances: InstanceView[];
}

export interface NodeLink {
  from: string;
  to: string;
  inputs: string[];
}

export interface ParamGroup {
  id: string;
  title: string;
  kind: string;
  params: RuntimeParam[];
}

/** What instanceViews reads of the parameters: a Map, or run-cache's paramLookup (no map built per live batch). */
export interface ParamLookup {
  get(key: string): RuntimeParam | undefined;
}

const progressFold = instanceProgress(STATE_ORDER);

/** One view per node with its instances in index order: how far each got and what it last said. */
export function instanceViews(detail: RunDetail, events: readonly RunEvent[], params: ParamLookup): RunNodeView[] {
  // folded once per batch, not over the whole event list per render
  const { status, completed, doneSinceTransition } = foldEvents(events, progressFold);
  const doneCurrentOf = (name: string) => doneSinceTransition.has(doneKey(name, detail.state));
  return detail.nodes.map((n) => ({
    name: n.name,
    image: n.image,
    cloud: n.cloud,
    instances: detail.instances
      .filter((i) => i.node === n.name)
      .sort((a, b) => a.index - b.index)
      .map((i) => ({
        name: i.name,
        node: i.node,
        completed: completed.get(i.name) ?? null,
        status:
          i.liveness === "lost"
            ? "lost"
            : !i.live
              ? "removed"
              : i.liveness === "unresponsive"
                ? "unresponsive"
                : (status.get(i.name) ?? (i.cameUp ? "up" : "pending")),
        aborted: params.get(`${i.name}:abort`)?.value != null,
        statecustom: params.get(`${i.name}:statecustom`)?.value ?? null,
        doneCurrent: doneCurrentOf(i.name) || i.completed,
      })),
  }));
}

const namesOf = new WeakMap<RunDetail["instances"], string[]>();

/**
 * The run's instance names by node, then index: the same array while the run's instances are (a live batch of
 * parameters leaves them as they were), so the lists built from it are not rebuilt per batch.
 */
export function sortedInstanceNames(instances: RunDetail["instances"]): string[] {
  let names = namesOf.get(instances);
  if (!names) {
    names = [...instances].sort((a, b) => a.node.localeCompare(b.node) || a.index - b.index).map((i) => i.name);
    namesOf.set(instances, names);
  }
  return names;
}

/** Which of the run's nodes feed which, from the deployment's output-to-input mappings (one link per pair). */
export function mappingLinks(module: ModuleRecord | undefined, detail: RunDetail): NodeLink[] {
  if (module?.doc.kind !== "deployment") return [];
  const doc = module.doc as DeploymentModule;
  const names = new Set(detail.nodes.map((n) => n.name));
  const links = new Map<string, NodeLink>();
  for (const [to, node] of Object.entries(doc.nodes)) {
    for (const raw of Object.values(node.mappings)) {
      const m = parseMapping(raw);
      if (m?.kind !== "output" || !names.has(m.node) || !names.has(to)) continue;
      const key = `${m.node}>${to}`;
      const l = links.get(key) ?? { from: m.node, to, inputs: [] };
      l.inputs.push(m.name);
      links.set(key, l);
    }
  }
  return [...links.values()];
}

/**
 * The parameters matching `filter` (in their key or value), grouped by owner: the global ones first, then each
 * node followed by its instances, then owners the run no longer lists.
 */
export function paramGroups(params: readonly RuntimeParam[], detail: RunDetail, filter: string): ParamGroup[] {
  const f = filter.trim().toLowerCase();
  const shown = f
    ? params.filter((p) => p.key.toLowerCase().includes(f) || (p.value ?? "").toLowerCase().includes(f))
    : params;
  const out: ParamGroup[] = [];
  const byOwner = new Map<string, RuntimeParam[]>();
  for (const p of shown) {
    const owner = p.key.slice(0, p.key.indexOf(":"));
    const list = byOwner.get(owner);
    if (list) list.push(p);
    else byOwner.set(owner, [p]);
  }
  const take = (owner: string, title: string, kind: string) => {
    const list = byOwner.get(owner);
    if (list) out.push({ id: owner, title, kind, params: list });
    byOwner.delete(owner);
  };
  take("ss", "Global", "global");
  for (const n of detail.nodes) {
    take(n.name, `Node ${n.name}`, "node");
    for (const i of detail.instances.filter((x) => x.node === n.name).sort((a, b) => a.index - b.index))
      take(i.name, i.name, "instance");
  }
  for (const owner of [...byOwner.keys()].sort()) take(owner, owner, owner.includes(".") ? "instance" : "node");
  return out;
}

/** At most this many instances in one "Add…" (the API's and the CLI's bound, `slipstream scale RUN NODE +N`). */
export const MAX_SCALE_ADD = 1000;

/**
 * The "Add…" field as the CLI reads `+N`: a whole number from 1 to MAX_SCALE_ADD, else the CLI's reason in
 * the form's words.
 */
export function parseAddCount(raw: string): { add: number } | { problem: string } {
  const text = raw.trim();
  const value = /^\+?[0-9]+$/.test(text) ? Number(text.replace(/^\+/, "")) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1)
    return { problem: `'${text}' must be a whole number of instances to add, from 1` };
  if (value > MAX_SCALE_ADD) return { problem: `'+${value}' adds at most ${MAX_SCALE_ADD} instances` };
  return { add: value };
}

/**
 * The ids of the selected instances of `node` (`client.3` → 3), as `slipstream scale RUN NODE -ID…` takes them:
 * each once, in order; a problem when none is selected.
 */
export function removeIds(node: string, selected: Iterable<string>): { remove: number[] } | { problem: string } {
  const ids = new Set<number>();
  for (const name of selected) {
    const dot = name.lastIndexOf(".");
    const id = Number(name.slice(dot + 1));
    if (name.slice(0, dot) === node && Number.isSafeInteger(id) && id >= 1) ids.add(id);
  }
  if (ids.size === 0) return { problem: "select the instances to remove" };
  return { remove: [...ids].sort((a, b) => a - b) };
}

/** What an instance does in a scale cycle: a new one runs the full recipes, a survivor a hook, a removed one leaves. */
export type ScaleRole = "added" | "survivor" | "removed";

export interface ScaleTargetRun {
  target: string;
  /** running: started (or printed) and not yet finished in the events; failed: finished otherwise than exit 0 */
  outcome: "running" | "ok" | "failed";
  /** how it ended when it did not succeed ("exit code 1", its last stderr line) */
  detail: string | null;
}

export interface ScaleCycleInstance {
  name: string;
  node: string;
  role: ScaleRole;
  /** the targets it ran in this cycle, in the order they started, from its log events */
  targets: ScaleTargetRun[];
  /** its report arrived during this cycle */
  reported: boolean;
  /** its last instance event in this cycle (starting, up, removed, …), null when none */
  status: string | null;
}

export interface ScaleCycle {
  seq: number;
  at: string;
  actor: string;
  node: string;
  added: string[];
  removed: string[];
  /** the run's states during the cycle, in order */
  states: { state: RunState; at: string }[];
  /** the run is back in Ready (or ended) since the scale */
  finished: boolean;
  instances: ScaleCycleInstance[];
}

const AGENT_RUNNING = /^\[agent\] Running target (\S+)/;
const AGENT_FINISHED = /^\[agent\] Target (\S+) finished: (.*)$/;
const AGENT_NOT_FATAL = /^\[agent\] (\S+) failed \(not fatal\): (.*)$/;

/** The hook a survivor runs in a cycle: onvmadd when instances were added, onvmremove when some were removed. */
export function survivorHook(cycle: Pick<ScaleCycle, "added">): "onvmadd" | "onvmremove" {
  return cycle.added.length > 0 ? "onvmadd" : "onvmremove";
}

/**
 * Each scale of the run, oldest first, from its events alone (so every watcher sees the same, live): who asked,
 * which instances it added and removed, the states the run went through until it was back in Ready, and per
 * instance which targets ran where (from the `log` events' target and the agent's "Running target" lines) and
 * whether its report arrived. The instances of a cycle are the ones live when it started (survivors), the added
 * and the removed ones, in the order of the run's nodes, then by index.
 */
export function scaleCycles(events: readonly RunEvent[], nodeOrder: readonly string[] = []): ScaleCycle[] {
  const first = events.findIndex((e) => e.body.type === "scale");
  if (first < 0) return [];
  const live = new Set<string>();
  const cycles: ScaleCycle[] = [];
  let cycle: ScaleCycle | null = null;
  let byName = new Map<string, ScaleCycleInstance>();
  // the scale's transaction records the run leaving Ready just before the scale itself
  let lastState: { state: RunState; at: string } | null = null;
  const track = (name: string): ScaleCycleInstance | undefined => byName.get(name);
  const rank = new Map(nodeOrder.map((n, i) => [n, i]));
  const order = (a: ScaleCycleInstance, b: ScaleCycleInstance) =>
    (rank.get(a.node) ?? rank.size) - (rank.get(b.node) ?? rank.size) ||
    a.node.localeCompare(b.node) ||
    Number(a.name.slice(a.name.lastIndexOf(".") + 1)) - Number(b.name.slice(b.name.lastIndexOf(".") + 1));
  const targetOf = (inst: ScaleCycleInstance, target: string): ScaleTargetRun => {
    // a target that ran again (a report after the prescale's) is a new row only once it had finished
    const last = [...inst.targets].reverse().find((t) => t.target === target);
    if (last && last.outcome === "running") return last;
    const run: ScaleTargetRun = { target, outcome: "running", detail: null };
    inst.targets.push(run);
    return run;
  };
  for (const [k, e] of events.entries()) {
    const b = e.body;
    // before the first scale only who is live matters
    if (k < first) {
      if (b.type === "state") lastState = { state: b.to, at: e.at };
      if (b.type === "created") for (const n of b.instances) live.add(n);
      else if (b.type === "instance" && (b.status === "removed" || b.status === "lost")) live.delete(b.instance);
      continue;
    }
    switch (b.type) {
      case "created":
        for (const n of b.instances) live.add(n);
        break;
      case "scale": {
        const removed = new Set(b.removed);
        const added = new Set(b.added);
        const node = (name: string) => name.slice(0, name.lastIndexOf("."));
        const instances: ScaleCycleInstance[] = [];
        const add = (name: string, role: ScaleRole) =>
          instances.push({ name, node: node(name), role, targets: [], reported: false, status: null });
        for (const n of live) if (!removed.has(n) && !added.has(n)) add(n, "survivor");
        for (const n of b.added) add(n, "added");
        for (const n of b.removed) add(n, "removed");
        instances.sort(order);
        cycle = {
          seq: e.seq,
          at: e.at,
          actor: e.actor,
          node: b.node,
          added: b.added,
          removed: b.removed,
          states: lastState && lastState.state !== "Ready" ? [lastState] : [],
          finished: false,
          instances,
        };
        cycles.push(cycle);
        byName = new Map(instances.map((i) => [i.name, i]));
        for (const n of b.added) live.add(n);
        for (const n of b.removed) live.delete(n);
        break;
      }
      case "state":
        lastState = { state: b.to, at: e.at };
        if (cycle && !cycle.finished) {
          cycle.states.push({ state: b.to, at: e.at });
          if (b.to === "Ready" || TERMINAL_STATES.includes(b.to)) cycle.finished = true;
        }
        break;
      case "instance": {
        if (b.status === "removed" || b.status === "lost") live.delete(b.instance);
        const inst = track(b.instance);
        if (inst && b.status !== "completed") inst.status = b.status;
        break;
      }
      case "report": {
        const inst = b.instance ? track(b.instance) : undefined;
        if (inst) inst.reported = true;
        break;
      }
      case "log": {
        const inst = track(b.instance);
        if (!inst) break;
        if (b.target !== "agent") {
          targetOf(inst, b.target);
          break;
        }
        for (const line of b.data.split("\n")) {
          const running = AGENT_RUNNING.exec(line);
          if (running) {
            targetOf(inst, running[1]);
            continue;
          }
          const finished = AGENT_FINISHED.exec(line);
          if (finished) {
            const t = targetOf(inst, finished[1]);
            const ok = finished[2] === "exit code 0";
            t.outcome = ok ? "ok" : "failed";
            t.detail = ok ? null : finished[2];
            continue;
          }
          const notFatal = AGENT_NOT_FATAL.exec(line);
          if (notFatal) {
            const t = [...inst.targets].reverse().find((x) => x.target === notFatal[1]);
            if (t) {
              t.outcome = "failed";
              t.detail = notFatal[2];
            }
          }
        }
        break;
      }
      default:
        break;
    }
  }
  return cycles;
}
