import type { AbortReceipt, AbortReceiptBody, AbortReceiptList } from "../../protocol/abort-receipt.js";
import { fieldError } from "../../protocol/errors.js";
import type { RunRuntime } from "./runtime.js";
import type { RunService } from "./service.js";

interface Mark {
  seq: number;
  type: "abort" | "abort-reset";
}

/** The run's abort and abort-reset events, in order: what numbers its aborts. */
function marks(runs: RunService, runId: string): Mark[] {
  return runs.db.$client
    .prepare("select seq, type from events where run_id = ? and type in ('abort', 'abort-reset') order by seq")
    .all(runId) as Mark[];
}

/**
 * The number of the abort in force at `seq` (1, then one more after each reset), or null when the run was not
 * aborted then. A timeout raises the abort without an abort event: an episode with no abort event counts only when
 * it is the current one and the run is aborted now.
 */
export function abortNumberAt(all: Mark[], seq: number, abortedNow: boolean): number | null {
  let number = 1;
  let raised = false;
  let resetAfter = false;
  for (const m of all) {
    if (m.seq > seq) {
      if (m.type === "abort-reset") resetAfter = true;
      continue;
    }
    if (m.type === "abort-reset") {
      number++;
      raised = false;
    } else raised = true;
  }
  if (raised) return number;
  // an abort event after `seq` in this same episode started it: the run was not aborted yet at `seq`
  const laterAbort = all.some((m) => m.seq > seq && m.type === "abort");
  return !resetAfter && abortedNow && !laterAbort ? number : null;
}

/** The number of the abort in force now, null when the run is not aborted. */
function currentAbort(rt: RunRuntime, all: Mark[]): number | null {
  if (rt.abort === null) return null;
  return 1 + all.filter((m) => m.type === "abort-reset").length;
}

/**
 * Stores an agent's receipt for the abort it saw (the instance is the agent's own, from its token) and pushes it to
 * the run's watchers as an `abort-receipt` event. A re-send, or an older revision arriving late, changes nothing.
 */
export function recordAbortReceipt(
  runs: RunService,
  rt: RunRuntime,
  instance: string,
  body: AbortReceiptBody,
): { abort: number; revision: number } {
  if (body.seenSeq > rt.lastSeq) {
    throw fieldError("seenSeq", `${body.seenSeq} is past the run's last event (${rt.lastSeq})`);
  }
  const abort = abortNumberAt(marks(runs, rt.id), body.seenSeq, rt.abort !== null);
  if (abort === null) throw fieldError("seenSeq", `the run was not aborted at seq ${body.seenSeq}`, "CONFLICT");
  const sqlite = runs.db.$client;
  const stored = sqlite
    .prepare("select revision from abort_receipts where run_id = ? and instance = ? and abort = ?")
    .get(rt.id, instance, abort) as { revision: number } | undefined;
  if (stored && stored.revision >= body.revision) return { abort, revision: stored.revision };
  const receipt: AbortReceipt = {
    instance,
    abort,
    revision: body.revision,
    reachedAt: body.reachedAt,
    receivedAt: new Date().toISOString(),
    scripts: body.scripts,
    report: body.report,
    reportError: body.reportError,
  };
  runs.transact(rt, `node:${instance}`, (tx) => {
    sqlite
      .prepare(
        `insert into abort_receipts (run_id, instance, abort, revision, body, received_at) values (?, ?, ?, ?, ?, ?)
         on conflict (run_id, instance, abort) do update
         set revision = excluded.revision, body = excluded.body, received_at = excluded.received_at`,
      )
      .run(rt.id, instance, abort, receipt.revision, JSON.stringify(receipt), receipt.receivedAt);
    tx.event({ type: "abort-receipt", ...receipt });
  });
  return { abort, revision: receipt.revision };
}

/** Every receipt of the run, by abort then instance, and which abort is in force. */
export function listAbortReceipts(runs: RunService, rt: RunRuntime): AbortReceiptList {
  const rows = runs.db.$client
    .prepare("select body from abort_receipts where run_id = ? order by abort, instance")
    .all(rt.id) as { body: string }[];
  return {
    currentAbort: currentAbort(rt, marks(runs, rt.id)),
    receipts: rows.map((r) => JSON.parse(r.body) as AbortReceipt),
  };
}
