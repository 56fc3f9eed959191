import { instanceParams, nodeParams } from "../../core/params.js";
import { refusal } from "../../core/run-actions.js";
import { instanceNames } from "../../core/run-spec.js";
import { fieldError, SlipError } from "../../protocol/errors.js";
import { hashToken, newToken } from "../auth/tokens.js";
import { checkInstanceLimits, checkParamCount } from "./quota.js";
import { machineChecked } from "./run-commit.js";
import type { RunRuntime } from "./runtime.js";
import type { RunService } from "./service.js";

/**
 * Adds or removes instances of one node of a scalable run in Ready: new instances get fresh parameters
 * (mapped inputs take the values already published), and the run cycles back through Provisioning.
 *
 * The run timeout bounds the time to reach Ready. A scale cycle starts a new climb to Ready, so its deadline
 * is renewed to now + the run's timeout, in the same transaction as the scale (the old deadline has often
 * passed already while the run sat in Ready). Callers re-arm the deadline timer (app.deadlines.arm()).
 */
export function scaleRun(
  svc: RunService,
  rt: RunRuntime,
  node: string,
  add: number | null,
  remove: number[] | null,
  actor: string,
): string[] {
  const spec = rt.spec.nodes.find((n) => n.name === node);
  if (!spec) throw fieldError("node", `no node '${node}' in this run`);
  // the same rule as the run detail's `allowed` (core/run-actions.ts); the machine is asked again below
  const refused = refusal("scale", rt);
  if (refused) throw new SlipError("CONFLICT", refused);
  const existing = [...rt.instances.values()].filter((i) => i.node === node);
  const next = existing.reduce((m, i) => Math.max(m, i.idx), 0) + 1;
  const added = add ? instanceNames(node, next, add) : [];
  // an id given twice is removed once (the machine refuses a list with duplicates)
  const removed = [...new Set(remove ?? [])].map((id) => `${node}.${id}`);
  for (const name of removed) {
    if (!rt.snapshot.context.instances.get(name)?.live) throw fieldError("remove", `'${name}' is not a live instance`);
  }
  if (added.length > 0) {
    const live = rt.snapshot.context.instances.values().filter((i) => i.live).length;
    checkInstanceLimits(
      svc,
      svc.limits(),
      { id: rt.ownerId, username: rt.owner },
      { before: live, adding: added.length },
      "add",
    );
  }
  const deadline = new Date(Date.now() + rt.spec.timeoutMinutes * 60_000).toISOString();
  svc.transact(rt, actor, (tx) => {
    for (const [k, name] of added.entries()) {
      tx.putInstance({
        name,
        node,
        idx: next + k,
        cloud: spec.cloud,
        tokenHash: hashToken(newToken("unissued")),
        machineId: null,
        workspace: null,
        login: null,
        status: "pending",
        logChunk: 0,
      });
      tx.declare(instanceParams(spec, next + k, rt.spec.overrides, (key) => tx.param(key)?.value ?? null));
    }
    checkParamCount(rt, tx, svc.limits(), "add");
    const event = { type: "scale" as const, node, add: added.map((name) => ({ name, node })), remove: removed };
    machineChecked(tx, event, `cannot scale while the run is ${tx.state}`);
    svc.db.$client.prepare("update runs set deadline_at = ? where id = ?").run(deadline, rt.id);
    tx.event({ type: "scale", node, added, removed });
    const live = tx.liveInstances(node).map((n) => Number(n.split(".")[1]));
    for (const p of nodeParams(
      node,
      live.sort((a, b) => a - b),
    ))
      tx.setParam(p.key, p.value);
    for (const name of [...added, ...removed]) {
      if (tx.param(`${name}:scale.state`))
        tx.setParam(`${name}:scale.state`, added.includes(name) ? "creating" : "removing");
    }
  });
  rt.deadlineAt = deadline;
  return [...added, ...removed];
}
