import { livenessOf } from "../../core/instance-status.js";
import { allowedActions } from "../../core/run-actions.js";
import type { InstanceSummary, RunDetail, RunSummary } from "../../protocol/run.js";
import type { Db } from "../db/open.js";
import { sshKeyFingerprint } from "./create.js";
import { keptMaxHours, readKeptUntil } from "./kept-until.js";
import { readAbortedBy } from "./list-runs.js";
import type { RunRuntime } from "./runtime.js";

/** A run as the API shows it: its summary, and its detail with instances, nodes and the actions its state allows. */
export class RunViews {
  /** whether an instance's agent has a connection now (the agent namespace knows; app.ts wires it) */
  agentConnected: (runId: string, instance: string) => boolean = () => false;

  constructor(private readonly db: Db) {}

  summary(rt: RunRuntime): RunSummary {
    return {
      id: rt.id,
      module: rt.spec.module,
      owner: rt.owner,
      state: rt.state,
      abort: rt.abort,
      ...(rt.abort === null ? { abortedBy: null, abortedAt: null } : readAbortedBy(this.db, rt.id)),
      recoveryMode: rt.recoveryMode,
      keepRunning: rt.keepRunning,
      scalable: rt.scalable,
      tags: rt.tags,
      createdAt: rt.createdAt,
      updatedAt: rt.updatedAt,
      lastSeq: rt.lastSeq,
    };
  }

  detail(rt: RunRuntime): RunDetail {
    const ctx = rt.snapshot.context.instances;
    const rows = this.db.$client
      .prepare("select name, log_dropped, unresponsive_since from instances where run_id = ?")
      .all(rt.id) as { name: string; log_dropped: number; unresponsive_since: number | null }[];
    const dropped = new Map(rows.map((r) => [r.name, r.log_dropped]));
    const since = new Map(rows.map((r) => [r.name, r.unresponsive_since]));
    const instances: InstanceSummary[] = [...rt.instances.values()].map((i) => {
      const ms = since.get(i.name);
      return {
        name: i.name,
        node: i.node,
        index: i.idx,
        cloud: i.cloud,
        live: ctx.get(i.name)?.live ?? false,
        cameUp: ctx.get(i.name)?.cameUp ?? false,
        completed: ctx.get(i.name)?.completed ?? false,
        workspace: i.workspace,
        login: i.login,
        logDropped: dropped.get(i.name) ?? 0,
        // run-rules I2 (core/instance-status.ts)
        liveness: livenessOf({
          runState: rt.state,
          live: ctx.get(i.name)?.live ?? false,
          cameUp: ctx.get(i.name)?.cameUp ?? false,
          machine: i.status,
          lost: rt.lost.has(i.name),
          connected: this.agentConnected(rt.id, i.name),
          away: ms != null,
        }),
        unresponsiveSince: ms == null ? null : new Date(ms).toISOString(),
      };
    });
    return {
      ...this.summary(rt),
      allowed: allowedActions(rt),
      instances,
      nodes: rt.spec.nodes.map((n) => ({
        name: n.name,
        image: n.imagePath,
        multiplicity: rt.liveInstances(n.name).length,
        cloud: n.cloud,
      })),
      deadline: rt.deadlineAt,
      timeoutMinutes: rt.spec.timeoutMinutes,
      sshKeys: (rt.spec.sshKeys ?? []).map(sshKeyFingerprint),
      keptUntil: readKeptUntil(this.db.$client, rt),
      keptMaxHours: keptMaxHours(rt.spec),
    };
  }
}
