import type { Logger } from "pino";
import { type MachineEvent, machineAfter } from "../../core/instance-status.js";
import type { RunEffect } from "../../core/run-machine.js";
import { hashToken, newToken } from "../auth/tokens.js";
import type { Connector } from "../connectors/types.js";
import type { ReportFiles } from "../reports/store.js";
import { readEvents } from "./event-log.js";
import { reportTimestamp, writeOrchestratorReport } from "./orchestrator-report.js";
import type { RunTx } from "./run-tx.js";
import type { InstanceRecord, RunRuntime } from "./runtime.js";
import type { RunService } from "./service.js";

/** The instance's machine status after `event` (run-rules I1); an undeclared move is a bug, thrown as such. */
function moved(rec: InstanceRecord, event: MachineEvent): InstanceRecord["status"] {
  const next = machineAfter(rec.status, event);
  if (!next)
    throw new Error(`instance ${rec.name}: its machine cannot go from ${rec.status} on ${event} (run-rules I1)`);
  return next;
}

interface EffectDeps {
  svc: RunService;
  connectors: Map<string, Connector>;
  /** deleted clouds: their machines can still be stopped */
  retiredConnectors: Map<string, Connector>;
  reports: ReportFiles;
  serviceUrl: () => string;
  /** with TLS: the fingerprint of the server's certificate, which agents pin */
  serverCertSha256?: string;
  log: Logger;
  /** removes every known secret (cloud credentials) from text written into reports */
  redact: (text: string) => string;
  /** instances whose agent is connected right now (the socket layer knows) */
  isConnected: (runId: string, instance: string) => boolean;
  /** its machine started: its agent is now awaited (run-rules S4b) */
  machineStarted?: (rt: RunRuntime, instance: string) => void;
}

/**
 * Performs what the run machine asks for. Each effect is asynchronous, records its outcome through the
 * run service (so it is persisted and pushed like everything else) and is safe to re-run at boot.
 */
export class RunEffects {
  /** machines whose start is in flight, by run and instance: a stop waits for it, or it would find no machine yet */
  private readonly starting = new Map<string, Promise<void>>();
  /** orchestrator reports being written: the server's close lets them finish (`settleReports`) */
  private readonly writing = new Set<Promise<void>>();
  private closing = false;

  constructor(private readonly d: EffectDeps) {}

  /**
   * At the server's close, before its database closes: no orchestrator report starts from now on (a run left in
   * Finalizing is finalized by the next boot's reconciler, `boot-reconcile.ts`), and those being written are
   * finished and listed, so no tarball lands in the data directory after the close without its row; one still going
   * after `ms` is left.
   */
  async settleReports(ms: number): Promise<void> {
    this.closing = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    });
    await Promise.race([Promise.allSettled([...this.writing]), late]);
    clearTimeout(timer);
  }

  run(rt: RunRuntime, _actions: string[], tx: RunTx): void {
    for (const effect of tx.effects) this.perform(rt, effect);
    // a run kept in Ready (to debug, or to scale) has its orchestrator report there; Finalizing writes the final one
    if (tx.events.some((e) => e.body.type === "kept")) {
      this.orchestratorReport(rt).catch((err) => {
        this.d.log.error({ err, run: rt.id }, "orchestrator report failed");
        // said in the run's log too: a follower waiting for the report must not wait for ever
        const message = `the orchestrator report failed: ${err instanceof Error ? err.message : String(err)}`;
        try {
          if (!rt.terminal) this.d.svc.recordEvent(rt, "server", { type: "error", message });
        } catch {
          // the server is closing (its database with it): nobody follows the run any more
        }
      });
    }
  }

  perform(rt: RunRuntime, effect: RunEffect): void {
    const key = `${effect.type}:${effect.params && "instances" in effect.params ? effect.params.instances.join(",") : ""}`;
    if (rt.inFlight.has(key)) return;
    rt.inFlight.add(key);
    const done = () => rt.inFlight.delete(key);
    const fail = (err: unknown) => this.d.log.error({ err, run: rt.id, effect: effect.type }, "effect failed");
    switch (effect.type) {
      case "startMachines":
        this.startAll(rt).catch(fail).finally(done);
        break;
      case "startScaledMachines":
        Promise.all(effect.params.instances.map((i) => this.start(rt, i)))
          .catch(fail)
          .finally(done);
        break;
      case "stopMachines":
        this.stopAllAndFinalize(rt).catch(fail).finally(done);
        break;
      case "stopRemovedMachines":
        for (const i of effect.params.instances) {
          // a removed instance first sends its report; its machine stops when its agent leaves
          if (!this.d.isConnected(rt.id, i)) this.stop(rt, i).catch(fail);
        }
        done();
        break;
      default:
        done();
    }
  }

  private async startAll(rt: RunRuntime): Promise<void> {
    const pending = [...rt.instances.values()].filter((i) => machineAfter(i.status, "start") !== null);
    await Promise.all(pending.map((i) => this.start(rt, i.name)));
    if (rt.state === "Initializing") this.d.svc.send(rt, "server", { type: "initialized" });
  }

  async start(rt: RunRuntime, name: string): Promise<void> {
    const key = `${rt.id}/${name}`;
    const started = this.startMachine(rt, name);
    this.starting.set(key, started);
    try {
      await started;
    } finally {
      if (this.starting.get(key) === started) this.starting.delete(key);
    }
    // ended meanwhile, before any stop could wait for this start
    if (rt.terminal) await this.stop(rt, name);
    else if (rt.instances.get(name)?.status === "running") this.d.machineStarted?.(rt, name);
  }

  private async startMachine(rt: RunRuntime, name: string): Promise<void> {
    const { svc } = this.d;
    const rec = rt.instances.get(name);
    if (!rec || rt.terminal || !machineAfter(rec.status, "start")) return;
    const connector = this.d.connectors.get(rec.cloud);
    // a fresh token per start: only its hash is stored, and a restart during Initializing must be able to retry
    const token = newToken("agent");
    svc.transact(rt, "server", (tx) => {
      tx.putInstance({ ...rec, tokenHash: hashToken(token), status: moved(rec, "start") });
      tx.event({ type: "instance", instance: name, status: "starting", detail: `cloud ${rec.cloud}` });
    });
    try {
      if (!connector) {
        throw new Error(
          this.d.retiredConnectors.has(rec.cloud) ? `cloud '${rec.cloud}' was deleted` : `unknown cloud '${rec.cloud}'`,
        );
      }
      const started = await connector.start({
        runId: rt.id,
        instance: name,
        node: rec.node,
        cloud: rec.cloud,
        serviceUrl: this.d.serviceUrl(),
        ...(this.d.serverCertSha256 ? { serverCertSha256: this.d.serverCertSha256 } : {}),
        token,
      });
      svc.transact(rt, "server", (tx) => {
        const cur = tx.instance(name)!;
        tx.putInstance({
          ...cur,
          machineId: started.instanceId,
          workspace: started.workspace,
          login: started.login ?? null,
          status: moved(cur, "started"),
        });
        tx.setParam(`${name}:hostname`, started.hostname);
        tx.setParam(`${name}:instanceid`, started.instanceId);
        if (started.urlSsh) tx.setParam(`${name}:url.ssh`, started.urlSsh);
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      svc.transact(rt, "server", (tx) => {
        const cur = tx.instance(name)!;
        tx.putInstance({ ...cur, status: machineAfter(cur.status, "startFailed") ?? "failed" });
        tx.event({ type: "instance", instance: name, status: "failed", detail: message });
      });
      if (!rt.terminal) svc.instanceFailed(rt, name, `Failed to start '${name}' on cloud '${rec.cloud}': ${message}`);
    }
  }

  async stop(rt: RunRuntime, name: string, keep = false): Promise<void> {
    await this.starting.get(`${rt.id}/${name}`);
    const rec = rt.instances.get(name);
    if (!rec?.machineId || !machineAfter(rec.status, "stop")) return;
    const connector = this.d.connectors.get(rec.cloud) ?? this.d.retiredConnectors.get(rec.cloud);
    this.d.svc.transact(rt, "server", (tx) => tx.putInstance({ ...rec, status: moved(rec, "stop") }));
    try {
      await connector?.stop(
        { runId: rt.id, instance: name, instanceId: rec.machineId, workspace: rec.workspace ?? "" },
        { keep },
      );
      this.d.svc.transact(rt, "server", (tx) => {
        const cur = tx.instance(name)!;
        // a stop that ran twice at once (the run's end and a scale's removal): the first one recorded it
        if (!machineAfter(cur.status, "stopped")) return;
        tx.putInstance({ ...cur, status: moved(cur, "stopped") });
        tx.event({ type: "instance", instance: name, status: "down" });
        // a machine a scale took away (not one stopped because the run ended)
        if (tx.param(`${name}:scale.state`)?.value === "removing") {
          tx.setParam(`${name}:scale.state`, "removed");
          // its scale cycle may be over already (the survivors reached Ready first)
          if (tx.state === "Ready") tx.setParam(`${name}:scale.state`, "gone");
        }
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.d.svc.recordEvent(rt, "server", { type: "error", message: `stopping '${name}' failed: ${message}` });
    }
  }

  /** Stops every machine; in Finalizing then writes the orchestrator report and ends the run. */
  private async stopAllAndFinalize(rt: RunRuntime): Promise<void> {
    await Promise.all([...rt.instances.keys()].map((name) => this.stop(rt, name)));
    if (rt.state !== "Finalizing") return;
    if (!(await this.orchestratorReport(rt))) return;
    this.d.svc.send(rt, "server", { type: "finalized" });
  }

  /** Writes the orchestrator report unless the server is closing (then false: nothing was written). */
  private async orchestratorReport(rt: RunRuntime): Promise<boolean> {
    if (this.closing) return false;
    const writing = this.writeOrchestratorReport(rt);
    this.writing.add(writing);
    try {
      await writing;
    } finally {
      this.writing.delete(writing);
    }
    return true;
  }

  /** The server's own report: the run's event log so far, as a tarball beside the nodes' reports. */
  private async writeOrchestratorReport(rt: RunRuntime): Promise<void> {
    let name = `orchestrator_report_${reportTimestamp()}.tgz`;
    // a kept run's report and the final one can fall in the same second
    for (let n = 2; this.reportExists(rt, name); n++) {
      name = `orchestrator_report_${reportTimestamp()}-${n}.tgz`;
    }
    const size = await writeOrchestratorReport(
      this.d.reports.file(rt.id, name),
      rt.id,
      (since, limit) => readEvents(this.d.svc.db, rt.id, since, limit),
      this.d.redact,
    );
    this.d.svc.addReport(rt, "server", name, null, size);
  }

  private reportExists(rt: RunRuntime, name: string): boolean {
    return (
      this.d.svc.db.$client.prepare("select 1 from reports where run_id = ? and name = ?").get(rt.id, name) !==
      undefined
    );
  }
}
