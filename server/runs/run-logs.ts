import { addLogChunk, rebuildLogBudget } from "../../core/log-budget.js";
import { fieldError, SlipError } from "../../protocol/errors.js";
import type { RunEventBody } from "../../protocol/run.js";
import type { RunCommit } from "./run-commit.js";
import type { RunTx } from "./run-tx.js";
import type { RunRuntime } from "./runtime.js";

/**
 * How far past the last stored log chunk a chunk number may be: the agent numbers its chunks 1, 2, 3… and a few are
 * in flight at once; a number far ahead is a broken or hostile counter, which would make every later chunk look
 * "already stored" (and be dropped with an ok answer).
 */
export const MAX_CHUNK_AHEAD = 10_000;

/** What a run accumulates besides its machine and parameters: instances' logs, reports, and plain events. */
export class RunLogs {
  constructor(private readonly commit: RunCommit) {}

  /**
   * Stores a log chunk within the instance's log budget (core/log-budget.ts): past half the limit, the oldest
   * tail chunks are deleted as new ones arrive, and a "log-dropped" event (at most one a second, replacing the
   * previous one) says how many bytes are missing and where. Watchers saw the dropped chunks live.
   */
  appendLog(
    rt: RunRuntime,
    instance: string,
    chunk: { chunk: number; target: string; stream: "stdout" | "stderr" | "agent"; data: string },
  ): number | null {
    const rec = rt.instances.get(instance);
    if (!rec) throw new SlipError("NOT_FOUND", `instance '${instance}' not found`);
    if (chunk.chunk <= rec.logChunk) return null; // already stored before a reconnect
    if (chunk.chunk > rec.logChunk + MAX_CHUNK_AHEAD) {
      throw fieldError(
        "chunk",
        `${chunk.chunk} is more than ${MAX_CHUNK_AHEAD} past the last stored chunk (${rec.logChunk})`,
      );
    }
    const limit = this.commit.limits().logBytesPerInstance;
    const log = this.logBudget(rt, instance, limit);
    const bytes = Buffer.byteLength(chunk.data);
    const st = this.commit.statements;
    try {
      return this.commit.transact(rt, `node:${instance}`, (tx) => {
        tx.putInstance({ ...rec, logChunk: chunk.chunk });
        const seq = tx.event({ type: "log", instance, target: chunk.target, stream: chunk.stream, data: chunk.data });
        const drop = addLogChunk(log.budget, { seq, bytes }, limit);
        for (const d of drop) st.deleteEvent.run(rt.id, d.seq);
        st.updateInstanceLog.run({
          runId: rt.id,
          name: instance,
          kept: log.budget.headBytes + log.budget.tailBytes,
          dropped: log.budget.dropped,
        });
        if (drop.length > 0 && (log.marker === null || Date.now() - log.marker.at >= 1000)) {
          this.markLogDropped(tx, rt, instance);
        }
        return seq;
      });
    } catch (err) {
      // the budget was changed for a chunk that is not stored: reload it from what is
      rt.logBudgets.delete(instance);
      throw err;
    }
  }

  /** Writes the instance's "bytes dropped" marker if it is behind, replacing the previous one (one per instance). */
  markLogDropped(tx: RunTx, rt: RunRuntime, instance: string): void {
    const log = rt.logBudgets.get(instance);
    if (!log || log.budget.dropped === (log.marker?.bytes ?? 0)) return;
    if (log.marker) this.commit.statements.deleteEvent.run(rt.id, log.marker.seq);
    const bytes = log.budget.dropped;
    const seq = tx.event({ type: "log-dropped", instance, bytes, afterSeq: log.budget.headEndSeq });
    log.marker = { seq, at: Date.now(), bytes };
  }

  private logBudget(rt: RunRuntime, instance: string, limit: number) {
    let log = rt.logBudgets.get(instance);
    if (!log && (rt.instances.get(instance)?.logChunk ?? 0) === 0) {
      // nothing of it stored yet (its first chunk): an empty budget, without scanning the run's events for it (once
      // per instance, a scan of every event of the run: quadratic in a 500-instance launch)
      log = { budget: rebuildLogBudget([], null, limit), marker: null };
      rt.logBudgets.set(instance, log);
    }
    if (!log) {
      const actor = `node:${instance}`;
      const sqlite = this.commit.db.$client;
      const marker = sqlite
        .prepare(
          "select seq, body from events where run_id = ? and actor = ? and type = 'log-dropped' order by seq desc limit 1",
        )
        .get(rt.id, actor) as { seq: number; body: string } | undefined;
      const dropped = marker ? (JSON.parse(marker.body) as { bytes: number; afterSeq: number }) : null;
      const stored = sqlite
        .prepare(
          `select seq, length(cast(json_extract(body, '$.data') as blob)) as bytes from events
           where run_id = ? and actor = ? and type = 'log' order by seq`,
        )
        .all(rt.id, actor) as { seq: number; bytes: number }[];
      log = {
        budget: rebuildLogBudget(stored, dropped && { bytes: dropped.bytes, headEndSeq: dropped.afterSeq }, limit),
        marker: marker && dropped ? { seq: marker.seq, at: 0, bytes: dropped.bytes } : null,
      };
      rt.logBudgets.set(instance, log);
    }
    return log;
  }

  addReport(rt: RunRuntime, actor: string, name: string, instance: string | null, size: number): void {
    this.commit.transact(rt, actor, (tx) => {
      this.commit.db.$client
        .prepare("insert or replace into reports (run_id, name, instance, size) values (?, ?, ?, ?)")
        .run(rt.id, name, instance, size);
      tx.event({ type: "report", name, size, instance });
    });
  }

  recordEvent(rt: RunRuntime, actor: string, body: RunEventBody): void {
    this.commit.transact(rt, actor, (tx) => tx.event(body));
  }
}
