import type { RunDetail, RuntimeParam } from "@/protocol/run";
import { type ParamGroup, paramGroups } from "./run-views";

/** The parameter panel's groups and what they were built from: the next list's groups are built from these. */
export interface GroupedParams {
  params: readonly RuntimeParam[];
  nodes: RunDetail["nodes"];
  instances: RunDetail["instances"];
  filter: string;
  groups: ParamGroup[];
  /** where each key is: its group's index and its place in the group */
  at: Map<string, { group: number; row: number }>;
}

/** Past this many changed parameters the groups are built again whole (a refetched list changes every one). */
const REBUILD_OVER = 2000;

function build(params: readonly RuntimeParam[], detail: RunDetail, filter: string): GroupedParams {
  const groups = paramGroups(params, detail, filter);
  const at = new Map<string, { group: number; row: number }>();
  groups.forEach((g, group) => {
    g.params.forEach((p, row) => {
      at.set(p.key, { group, row });
    });
  });
  return { params, nodes: detail.nodes, instances: detail.instances, filter, groups, at };
}

/**
 * paramGroups for a list that a live batch made of the previous one (run-cache's foldParams keeps every key's
 * place and replaces only the parameters that changed): only the groups holding a changed parameter are new
 * objects, so the panel re-renders those and the work is the batch's, not the run's 23,000 parameters. Anything
 * else (a filter, a key added, the run's instances changed, a refetched list) builds the groups again.
 */
export function updateParamGroups(
  prev: GroupedParams | null,
  params: readonly RuntimeParam[],
  detail: RunDetail,
  filter: string,
): GroupedParams {
  if (
    !prev ||
    filter.trim() !== "" ||
    prev.filter !== filter ||
    prev.nodes !== detail.nodes ||
    prev.instances !== detail.instances ||
    params.length !== prev.params.length
  )
    return build(params, detail, filter);
  if (params === prev.params) return prev;
  const changed: number[] = [];
  for (let k = 0; k < params.length; k++) {
    if (params[k] === prev.params[k]) continue;
    if (params[k].key !== prev.params[k].key || changed.length >= REBUILD_OVER) return build(params, detail, filter);
    changed.push(k);
  }
  if (changed.length === 0) return { ...prev, params };
  const groups = [...prev.groups];
  const copied = new Set<number>();
  for (const k of changed) {
    const where = prev.at.get(params[k].key);
    if (!where) return build(params, detail, filter);
    if (!copied.has(where.group)) {
      groups[where.group] = { ...groups[where.group], params: [...groups[where.group].params] };
      copied.add(where.group);
    }
    groups[where.group].params[where.row] = params[k];
  }
  return { ...prev, params, groups };
}
