import { fieldError, SlipError } from "../../protocol/errors.js";
import type { Limits } from "../../protocol/limits.js";
import type { RunTx } from "./run-tx.js";
import type { RunRuntime } from "./runtime.js";
import type { RunService } from "./service.js";

/** A limit reached by what `field` asks for: named in the message and in `fields`. */
const exceeded = (field: string, message: string) => fieldError(field, message, "LIMIT_EXCEEDED");
const raise = (name: keyof Limits) => `an admin can raise '${name}' (Settings, or PUT /api/settings/limits)`;

/** Live instances of one user's unfinished runs, every run together. */
function activeInstancesOf(svc: RunService, ownerId: number): number {
  let n = 0;
  for (const id of svc.activeRunIds()) {
    const rt = svc.tryGet(id);
    if (!rt || rt.ownerId !== ownerId) continue;
    for (const i of rt.snapshot.context.instances.values()) if (i.live) n++;
  }
  return n;
}

/**
 * Refuses a run (or a scale) that would take one run past `instancesPerRun`, or its owner past
 * `activeInstancesPerUser`; `field` names what the caller asked for (e.g. `multiplicity`, `add`).
 */
export function checkInstanceLimits(
  svc: RunService,
  limits: Limits,
  owner: { id: number; username: string },
  run: { before: number; adding: number },
  field: string,
): void {
  const after = run.before + run.adding;
  if (after > limits.instancesPerRun) {
    throw exceeded(
      field,
      `a run may have at most ${limits.instancesPerRun} instances; this one would have ${after}; ${raise("instancesPerRun")}`,
    );
  }
  const active = activeInstancesOf(svc, owner.id);
  if (active + run.adding > limits.activeInstancesPerUser) {
    throw exceeded(
      field,
      `${owner.username}'s unfinished runs have ${active} instances and may have at most ${limits.activeInstancesPerUser} together; ${run.adding} more is over; terminate some runs, or ${raise("activeInstancesPerUser")}`,
    );
  }
}

/** Refuses a transaction that leaves a run with more runtime parameters than `paramsPerRun`. */
export function checkParamCount(rt: RunRuntime, tx: RunTx, limits: Limits, field: string): void {
  let n = rt.params.size;
  for (const key of tx.params.keys()) if (!rt.params.has(key)) n++;
  if (n > limits.paramsPerRun) {
    throw exceeded(
      field,
      `the run would have ${n} runtime parameters, over the limit of ${limits.paramsPerRun}; ${raise("paramsPerRun")}`,
    );
  }
}

/**
 * Refuses a parameter write that would record more than `eventsPerRun` parameter changes and messages: the
 * guard against a recipe that writes in a loop. State changes, log lines and the server's own events go on.
 */
export function checkEventBudget(rt: RunRuntime, limits: Limits): void {
  if (rt.counted >= limits.eventsPerRun) {
    throw new SlipError(
      "LIMIT_EXCEEDED",
      `the run has recorded ${rt.counted} parameter changes and messages, its limit; ${raise("eventsPerRun")}`,
    );
  }
}

/** Refuses a value longer than `paramValueBytes`. */
export function checkValueSize(key: string, value: string, limits: Limits): void {
  const bytes = Buffer.byteLength(value);
  if (bytes > limits.paramValueBytes) {
    throw exceeded(
      "value",
      `${bytes} bytes for '${key}', over the limit of ${limits.paramValueBytes}; ${raise("paramValueBytes")}`,
    );
  }
}
