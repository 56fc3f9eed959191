import { machineAfter } from "../../core/instance-status.js";
import type { RunEventBody } from "../../protocol/run.js";
import type { AppContext } from "../context.js";
import { TERMINAL_SQL } from "../db/run-states.js";

/** Events are per run: the server's start and stop are recorded on every run they interrupt (run-rules R19). */
export function recordOnActiveRuns(app: AppContext, body: RunEventBody): void {
  for (const id of app.runs.activeRunIds()) {
    try {
      app.runs.recordEvent(app.runs.get(id), "server", body);
    } catch (err) {
      app.log.error({ err, run: id }, "recording a server event failed");
    }
  }
}

/**
 * Dokploy-style: work interrupted by a stop is picked up again at boot. Agents reconnect on their own.
 * Machines are reconciled with the stored instances, whatever the state: a live instance that never came up
 * and whose start may still be made (run-rules I1: pending, starting) is started — e.g. one added by a scale that
 * committed just before the stop; a removed instance's machine, and every machine of an ended run, that may still
 * be stopped (I1: not stopped) is stopped.
 */
export function reconcileAtBoot(app: AppContext): void {
  const groupByNode = (list: { node: string; name: string }[]) => {
    const out = new Map<string, string[]>();
    for (const i of list) out.set(i.node, [...(out.get(i.node) ?? []), i.name]);
    return out;
  };
  recordOnActiveRuns(app, { type: "server", status: "started" });
  for (const id of app.runs.activeRunIds()) {
    const rt = app.runs.get(id);
    const ctx = rt.snapshot.context.instances;
    app.liveness.armAtBoot(rt);
    if (rt.state === "Initializing") app.effects.perform(rt, { type: "startMachines" });
    else if (rt.state === "Finalizing") app.effects.perform(rt, { type: "stopMachines" });
    else {
      const list = [...rt.instances.values()];
      const neverUp = list.filter(
        (i) => machineAfter(i.status, "start") !== null && ctx.get(i.name)?.live && !ctx.get(i.name)?.cameUp,
      );
      for (const [node, instances] of groupByNode(neverUp)) {
        app.effects.perform(rt, { type: "startScaledMachines", params: { node, instances } });
      }
      const removed = list.filter(
        (i) => !ctx.get(i.name)?.live && i.machineId !== null && machineAfter(i.status, "stop") !== null,
      );
      for (const [node, instances] of groupByNode(removed)) {
        app.effects.perform(rt, { type: "stopRemovedMachines", params: { node, instances } });
      }
    }
    app.log.info({ run: id, state: rt.state }, "resumed run");
  }
  // ended runs whose machines were still being stopped (or not yet) when the server went down
  const ended = app.db.$client
    .prepare(
      `select distinct run_id as id from instances join runs on runs.id = instances.run_id
       where runs.state in ${TERMINAL_SQL} and instances.machine_id is not null and instances.status != 'stopped'`,
    )
    .all() as { id: string }[];
  for (const { id } of ended) {
    const rt = app.runs.get(id);
    for (const i of rt.instances.values()) {
      if (i.machineId !== null && machineAfter(i.status, "stop") !== null) {
        app.effects.stop(rt, i.name).catch((err) => app.log.error({ err, run: id, instance: i.name }, "stop failed"));
      }
    }
  }
  app.deadlines.arm();
}
