import type { Logger } from "pino";
import { sameDiagnosis } from "../../core/wait-graph.js";
import type { RunEvent } from "../../protocol/run.js";
import type { WaitDiagnosis } from "../../protocol/wait-graph.js";
import type { Bus } from "../bus.js";
import type { RunService } from "./service.js";
import { waitGraphOf } from "./wait-graph-view.js";

/**
 * How long after a change the graph is taken again: the changes of one moment (a set waking its waiters, an agent
 * re-sending its waits after a reconnect) are read as one, and a stuck run is still reported well within 2 s.
 */
const SETTLE_MS = 300;

/** Events that can change who waits or whether a producer can still answer (logs and reports cannot). */
const RELEVANT = new Set<RunEvent["body"]["type"]>([
  "state",
  "param",
  "abort",
  "abort-reset",
  "instance",
  "scale",
  "terminate",
  "kept",
]);

interface Shown {
  /** what was last pushed, to push only changes */
  identity: string;
  /** the diagnosis last recorded as a `stuck` event */
  diagnosis: WaitDiagnosis | null;
  /** the profile's grace (`stuckRunAbortSeconds`) running against it */
  abortTimer: NodeJS.Timeout | null;
}

/**
 * Keeps each run's wait-for graph (core/wait-graph.ts) for its watchers: taken again when a wait starts or ends
 * and when a committed event may change it (nothing is polled), pushed when it changed, its diagnosis recorded as
 * a `stuck` event when it appears, and the run aborted when the diagnosis outlasts the run's grace.
 */
export class WaitMonitor {
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly shown = new Map<string, Shown>();

  constructor(
    private readonly runs: RunService,
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {
    bus.on("waits", this.onWaits);
    bus.on("events", this.onEvents);
  }

  stop(): void {
    this.bus.off("waits", this.onWaits);
    this.bus.off("events", this.onEvents);
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
    for (const runId of [...this.shown.keys()]) this.forget(runId);
  }

  private readonly onWaits = (runId: string) => this.schedule(runId);

  private readonly onEvents = (runId: string, events: RunEvent[]) => {
    // with no wait open and no graph shown, the graph is empty whatever the events say (a wait's start and end come
    // as `waits`): a run that only writes values is not looked at 3 times a second
    if (!this.shown.has(runId) && !this.runs.peek(runId)?.waiters.size) return;
    if (events.some((e) => RELEVANT.has(e.body.type))) this.schedule(runId);
  };

  private schedule(runId: string): void {
    if (this.pending.has(runId)) return;
    this.pending.set(
      runId,
      setTimeout(() => {
        this.pending.delete(runId);
        try {
          this.evaluate(runId);
        } catch (err) {
          this.log.error({ err, run: runId }, "taking the wait-for graph failed");
        }
      }, SETTLE_MS),
    );
  }

  private evaluate(runId: string): void {
    // a run that left memory has ended: its graph is empty, and what watchers were last shown was too unless it is
    // in `shown`. Only then is it read back, for the empty graph they must see (a large run's read is a long task).
    const rt = this.shown.has(runId) ? this.runs.tryGet(runId) : this.runs.peek(runId);
    if (!rt) {
      this.forget(runId);
      return;
    }
    const graph = waitGraphOf(rt);
    const identity = JSON.stringify([graph.edges.map((e) => [e.from, e.key, e.since]), graph.diagnosis?.sentence]);
    const prev = this.shown.get(runId);
    const empty = graph.edges.length === 0 && graph.diagnosis === null;
    if ((prev?.identity ?? JSON.stringify([[], undefined])) !== identity) this.bus.emit("wait-graph", graph);
    if (rt.terminal || (empty && !prev?.diagnosis)) {
      this.forget(runId);
      return;
    }
    const entry = prev ?? { identity, diagnosis: null, abortTimer: null };
    entry.identity = identity;
    this.shown.set(runId, entry);
    if (sameDiagnosis(entry.diagnosis, graph.diagnosis)) return;
    if (entry.abortTimer) clearTimeout(entry.abortTimer);
    entry.abortTimer = null;
    entry.diagnosis = graph.diagnosis;
    if (!graph.diagnosis) return;
    this.runs.recordEvent(rt, "server", { type: "stuck", diagnosis: graph.diagnosis });
    const grace = rt.spec.stuckRunAbortSeconds ?? 0;
    if (grace > 0 && rt.abort === null) {
      entry.abortTimer = setTimeout(() => this.abortIfStillStuck(runId, graph.diagnosis!, grace), grace * 1000);
    }
  }

  /** The grace is over: aborts the run if the graph still says the same (a person may have set the key meanwhile). */
  private abortIfStillStuck(runId: string, diagnosis: WaitDiagnosis, grace: number): void {
    const entry = this.shown.get(runId);
    if (entry) entry.abortTimer = null;
    try {
      const rt = this.runs.tryGet(runId);
      if (!rt || rt.terminal || rt.abort !== null) return;
      if (!sameDiagnosis(waitGraphOf(rt).diagnosis, diagnosis)) return;
      this.runs.abort(rt, `stuck for ${grace} s: ${diagnosis.sentence}`, "server");
    } catch (err) {
      this.log.error({ err, run: runId }, "aborting a stuck run failed");
    }
  }

  private forget(runId: string): void {
    const entry = this.shown.get(runId);
    if (entry?.abortTimer) clearTimeout(entry.abortTimer);
    this.shown.delete(runId);
  }
}
