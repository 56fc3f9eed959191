import { nodeParams } from "../../core/params.js";
import { SlipError } from "../../protocol/errors.js";
import type { RunState } from "../../protocol/run.js";
import { prepared } from "../db/prepared.js";
import { machineChecked, type RunCommit } from "./run-commit.js";
import type { RunLogs } from "./run-logs.js";
import type { RunTx } from "./run-tx.js";
import type { RunRuntime } from "./runtime.js";

/**
 * What happens to one instance, as its agent and its machine report it: it came up, completed a state, could not be
 * started (R8b), went unresponsive, came back, was lost (R19). Each that moves the run machine checks its answer.
 */
export class RunInstances {
  constructor(
    private readonly commit: RunCommit,
    private readonly logs: RunLogs,
  ) {}

  /** Its agent said hello: recorded once, while the machine takes `instance.up` (a live instance, a run not over). */
  instanceUp(rt: RunRuntime, instance: string): void {
    const event = { type: "instance.up", instance } as const;
    if (rt.snapshot.context.instances.get(instance)?.cameUp || !rt.snapshot.can(event)) return;
    this.commit.transact(rt, `node:${instance}`, (tx) => {
      tx.event({ type: "instance", instance, status: "up" });
      if (tx.param(`${instance}:vmstate`)) tx.setParam(`${instance}:vmstate`, "Running");
      machineChecked(tx, event);
    });
  }

  complete(rt: RunRuntime, instance: string, state: RunState): void {
    this.commit.transact(rt, `node:${instance}`, (tx) => {
      const event = { type: "instance.completed", instance, state } as const;
      if (!tx.snapshot.can(event)) {
        throw new SlipError("CONFLICT", `'${instance}' cannot complete ${state}: the run is ${tx.state}`);
      }
      // logged before the machine moves, so the log reads "completed" then the state change it caused
      tx.event({ type: "instance", instance, status: "completed", state });
      // SlipStream's flag: true once the instance completed the current state, false again at the next (run-tx.ts)
      if (tx.param(`${instance}:complete`)) tx.setParam(`${instance}:complete`, "true");
      const scaleState = tx.param(`${instance}:scale.state`)?.value;
      if (state === "Provisioning" && scaleState === "creating") tx.setParam(`${instance}:scale.state`, "created");
      if (state === "SendingReports" && scaleState === "created") tx.setParam(`${instance}:scale.state`, "operational");
      // the count of dropped log bytes is final for this state: say it now rather than at the next drop
      this.logs.markLogDropped(tx, rt, instance);
      machineChecked(tx, event);
    });
  }

  /**
   * An instance's machine could not be started (run-rules R8b): it leaves the run's count and the run aborts with
   * the reason, set on the instance too; the other instances carry on to send their reports.
   */
  instanceFailed(rt: RunRuntime, instance: string, message: string): void {
    this.commit.transact(rt, "server", (tx) => {
      const first = tx.snapshot.context.abort === null;
      if (!tx.machine({ type: "instance.failed", instance, message })) {
        // it came up after all, or the run is ending: an abort like any other, if there is still a run to abort
        if (!rt.terminal && tx.state !== "Finalizing") {
          tx.event({ type: "abort", message, instance, first });
          machineChecked(tx, { type: "abort", message, instance });
        }
        return;
      }
      tx.event({ type: "abort", message, instance, first });
      if (tx.param(`${instance}:abort`)) tx.setParam(`${instance}:abort`, message);
      this.republishNode(tx, rt, instance);
    });
  }

  /** `<node>:multiplicity` and `<node>:ids` after an instance of the node left the count. */
  private republishNode(tx: RunTx, rt: RunRuntime, instance: string): void {
    const node = rt.instances.get(instance)?.node;
    if (!node) return;
    const live = tx.liveInstances(node).map((n) => Number(n.split(".")[1]));
    for (const p of nodeParams(
      node,
      live.sort((a, b) => a - b),
    ))
      tx.setParam(p.key, p.value);
  }

  // ---- agent liveness (run-rules R19) ---------------------------------------------------------------------

  private setUnresponsiveSince(rt: RunRuntime, instance: string, since: number | null): void {
    prepared(this.commit.db.$client, "update instances set unresponsive_since = ? where run_id = ? and name = ?").run(
      since,
      rt.id,
      instance,
    );
  }

  /** When `instance` was last recorded unresponsive (epoch ms), if it is: one row, asked at each agent's connect. */
  unresponsiveSinceOf(rt: RunRuntime, instance: string): number | undefined {
    const row = prepared(
      this.commit.db.$client,
      "select unresponsive_since as since from instances where run_id = ? and name = ?",
    ).get(rt.id, instance) as { since: number | null } | undefined;
    return row?.since ?? undefined;
  }

  /** When each instance went unresponsive (ms), for those that are. */
  unresponsiveSince(rt: RunRuntime): Map<string, number> {
    const rows = this.commit.db.$client
      .prepare(
        "select name, unresponsive_since as since from instances where run_id = ? and unresponsive_since is not null",
      )
      .all(rt.id) as { name: string; since: number }[];
    return new Map(rows.map((r) => [r.name, r.since]));
  }

  /** The agent's connection dropped: recorded, and the time kept so the grace survives a restart. */
  instanceUnresponsive(rt: RunRuntime, instance: string, since: number, reason: string, graceSeconds: number): void {
    this.commit.transact(rt, "server", (tx) => {
      this.setUnresponsiveSince(rt, instance, since);
      tx.event({
        type: "instance",
        instance,
        status: "unresponsive",
        detail: `agent disconnected (${reason}); lost if not back within ${graceSeconds} s`,
      });
    });
  }

  /** The agent connected again within the grace (or after a server restart). */
  instanceBack(rt: RunRuntime, instance: string, detail: string): void {
    this.commit.transact(rt, "server", (tx) => {
      this.setUnresponsiveSince(rt, instance, null);
      tx.event({ type: "instance", instance, status: "back", detail });
    });
  }

  /**
   * The grace is over and the agent is still away (R19): the instance leaves the count and the run aborts with
   * "agent of <ni> lost", set on the instance too; the other instances carry on to send their reports.
   * Returns whether the machine took it (not once the run is finalizing or over, or for an instance that is gone).
   */
  instanceLost(rt: RunRuntime, instance: string, graceSeconds: number, detail?: string): boolean {
    if (rt.terminal) return false;
    const message = `agent of ${instance} lost`;
    let taken = false;
    this.commit.transact(rt, "server", (tx) => {
      const first = tx.snapshot.context.abort === null;
      tx.event({
        type: "instance",
        instance,
        status: "lost",
        detail: detail ?? `no answer from its agent for ${graceSeconds} s`,
      });
      // an instance whose agent never connected did not come up: for the machine that is a start that failed (R8b)
      const cameUp = tx.snapshot.context.instances.get(instance)?.cameUp ?? false;
      if (!tx.machine({ type: cameUp ? "instance.lost" : "instance.failed", instance, message })) return;
      taken = true;
      tx.event({ type: "abort", message, instance, first });
      if (tx.param(`${instance}:abort`) && tx.param(`${instance}:abort`)?.value == null) {
        tx.setParam(`${instance}:abort`, message);
      }
    });
    rt.lost.add(instance);
    return taken;
  }
}
