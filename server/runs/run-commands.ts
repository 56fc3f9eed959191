import { commandAnswer, refusal } from "../../core/run-actions.js";
import { SlipError } from "../../protocol/errors.js";
import type { RunEventBody } from "../../protocol/run.js";
import { checkEventBudget } from "./quota.js";
import { machineChecked, type RunCommit } from "./run-commit.js";
import type { RunRuntime } from "./runtime.js";

/**
 * What people (and agents, for abort) ask of a run: abort, reset the abort, terminate. Scaling is scale.ts. Each
 * asks core's `commandAnswer` first (the same rules as the run detail's `allowed` list: refused commands answer
 * CONFLICT naming the state, accepted no-ops change nothing), then feeds the machine through `machineChecked`, so
 * the event log records a command only when the machine took it.
 */
export class RunCommands {
  constructor(private readonly commit: RunCommit) {}

  /** Raises the abort flags: the instance's own `abort`, and `ss:abort` (first message wins, R7). */
  abort(rt: RunRuntime, message: string, actor: string, instance: string | null = null): void {
    const refused = refusal("abort", rt);
    if (refused) throw new SlipError("CONFLICT", refused);
    // the first abort always lands; the ones after it only add messages, which a loop could write forever
    if (commandAnswer("abort", rt) === "no-op" && actor !== "server") checkEventBudget(rt, this.commit.limits());
    this.commit.transact(rt, actor, (tx) => {
      const first = tx.snapshot.context.abort === null;
      tx.event({ type: "abort", message, instance, first });
      // first message wins, per instance as for the run (SlipStream's abort keys)
      if (instance && tx.param(`${instance}:abort`) && tx.param(`${instance}:abort`)?.value == null) {
        tx.setParam(`${instance}:abort`, message);
      }
      machineChecked(tx, { type: "abort", message, instance });
    });
  }

  /** Clears the abort and recovery mode (R9), and every instance's own abort. */
  resetAbort(rt: RunRuntime, actor: string): void {
    const refused = refusal("resetAbort", rt);
    if (refused) throw new SlipError("CONFLICT", refused);
    this.commit.transact(rt, actor, (tx) => {
      machineChecked(tx, { type: "abort.reset" });
      tx.event({ type: "abort-reset" });
      for (const i of rt.instances.values())
        if (tx.param(`${i.name}:abort`)?.value != null) tx.setParam(`${i.name}:abort`, null);
    });
  }

  /** Ends the run (R10). In Finalizing it is already ending: accepted, and changes nothing (S2: a second click, a retry). */
  terminate(rt: RunRuntime, actor: string, why?: RunEventBody): void {
    const answer = commandAnswer("terminate", rt);
    if (answer === "no-op") return;
    if (answer === "refuse") throw new SlipError("CONFLICT", refusal("terminate", rt)!);
    this.commit.transact(rt, actor, (tx) => {
      // why the server itself terminates it (a kept run's expiry), in the same transaction as the terminate
      if (why) tx.event(why);
      tx.event({ type: "terminate" });
      machineChecked(tx, { type: "terminate" });
    });
  }
}
