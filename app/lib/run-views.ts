import type { DeploymentModule, ModuleRecord } from "@/protocol/modules";
import type { RunDetail, RunEvent, RunState, RuntimeParam } from "@/protocol/run";
// a relative path for the one value import: vitest does not resolve the "@/" alias
import { RUN_STATES } from "../../protocol/run";
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

interface ParamGroup {
  id: string;
  title: string;
  kind: string;
  params: RuntimeParam[];
}

/** One view per node with its instances in index order: how far each got and what it last said. */
export function instanceViews(
  detail: RunDetail,
  events: readonly RunEvent[],
  params: Map<string, RuntimeParam>,
): RunNodeView[] {
  const status = new Map<string, InstanceView["status"]>();
  const completed = new Map<string, RunState>();
  const doneCurrent = new Set<string>();
  for (const e of events) {
    const b = e.body;
    if (b.type === "state") doneCurrent.clear();
    if (b.type !== "instance") continue;
    if (b.status === "completed" && b.state) {
      const prev = completed.get(b.instance);
      if (!prev || (STATE_ORDER.get(b.state) ?? 0) > (STATE_ORDER.get(prev) ?? 0)) completed.set(b.instance, b.state);
      if (b.state === detail.state) doneCurrent.add(b.instance);
    } else if (b.status === "back") {
      status.set(b.instance, "up");
    } else if (b.status !== "completed") {
      status.set(b.instance, b.status);
    }
  }
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
        doneCurrent: doneCurrent.has(i.name) || i.completed,
      })),
  }));
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
