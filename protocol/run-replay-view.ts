import type { InstanceSummary, ParamCategory, RunDetail, RunState } from "./run";
import type { RunReplay } from "./run-replay";
import { type ReplayState, replayedLiveness } from "./run-replay-fold";

export interface ReplayViewInput {
  /** the run as it is now (or as its snapshot was exported): what never changes, and its instances' records */
  detail: RunDetail;
  /** every declared parameter, with what the page shows of it */
  declared: Iterable<{ key: string; category: ParamCategory; description: string }>;
  /** the run's events folded up to `at` */
  fold: ReplayState;
  at: number;
  /** when event `at` happened */
  time: string | null;
  lastSeq: number;
  marks: RunReplay["marks"];
}

/** Whether key `node.i:name` belongs to an instance the moment does not have yet. */
function ofAbsentInstance(s: ReplayState, key: string): boolean {
  const owner = key.slice(0, key.indexOf(":"));
  return /\.\d+$/.test(owner) && !s.instances.has(owner);
}

/**
 * A run as it was just after event `at`, in the shapes the live run page reads: the server answers the slider with
 * it, and the browser builds it from a snapshot file (the same code, so an offline replay shows what the server's
 * would).
 */
export function replayView({ detail, declared, fold: s, at, time, lastSeq, marks }: ReplayViewInput): RunReplay {
  const records = new Map(detail.instances.map((i) => [i.name, i]));
  const state: RunState = s.state ?? "Initializing";
  const instances: InstanceSummary[] = [...s.instances.values()].map((i) => {
    const rec = records.get(i.name);
    return {
      name: i.name,
      node: i.node,
      index: rec?.index ?? Number(i.name.slice(i.name.lastIndexOf(".") + 1)),
      cloud: rec?.cloud ?? "",
      live: i.live,
      cameUp: i.cameUp,
      completed: i.completedCurrent,
      workspace: rec?.workspace ?? null,
      login: rec?.login ?? null,
      logDropped: i.logDropped,
      liveness: replayedLiveness(s, i),
      unresponsiveSince: null,
    };
  });
  const liveCount = (node: string) => instances.filter((i) => i.node === node && i.live).length;
  const params = [...declared]
    // an instance's keys exist from its creation (or its scale) on; the run's and the nodes' from the start
    .filter((p) => !ofAbsentInstance(s, p.key))
    .map((p) => {
      const v = s.params.get(p.key);
      return {
        key: p.key,
        value: v?.value ?? null,
        category: p.category,
        description: p.description,
        updatedSeq: v?.seq ?? 0,
      };
    })
    .sort((a, b) => a.key.localeCompare(b.key));
  return {
    at,
    lastSeq,
    time,
    detail: {
      ...detail,
      state,
      abort: s.abort,
      recoveryMode: s.recoveryMode,
      updatedAt: time ?? detail.createdAt,
      lastSeq: at,
      // nothing is steered from the past
      allowed: [],
      instances,
      nodes: detail.nodes.map((n) => ({ ...n, multiplicity: liveCount(n.name) })),
    },
    params,
    reports: [...s.reports.values()].map((r) => ({
      name: r.name,
      instance: r.instance,
      size: r.size,
      createdAt: r.at,
    })),
    marks,
  };
}
