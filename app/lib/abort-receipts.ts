import type { AbortReceipt } from "@/protocol/abort-receipt";
import type { RunDetail, RunEvent } from "@/protocol/run";

export interface ReceiptRow {
  instance: string;
  /** still in the run's count: its agent is expected to answer */
  live: boolean;
  receipt: AbortReceipt | null;
}

/**
 * The receipts of the abort in force, one row per instance (null receipt: its agent has not answered yet), folded
 * from the run's events: the abort's number is one more than the resets so far, a higher revision replaces a lower.
 * Null when the run is not aborted.
 */
export function currentAbortReceipts(
  run: RunDetail,
  events: readonly RunEvent[],
): { abort: number; rows: ReceiptRow[] } | null {
  if (run.abort === null) return null;
  let abort = 1;
  const latest = new Map<string, AbortReceipt>();
  for (const e of events) {
    const b = e.body;
    if (b.type === "abort-reset") {
      abort++;
      latest.clear();
    } else if (b.type === "abort-receipt" && b.abort === abort) {
      const { type: _type, ...receipt } = b;
      const prev = latest.get(receipt.instance);
      if (!prev || receipt.revision >= prev.revision) latest.set(receipt.instance, receipt);
    }
  }
  const rows = [...run.instances]
    .sort((a, b) => a.node.localeCompare(b.node) || a.index - b.index)
    // an instance out of the count before the abort (removed by a scale, never started) has no agent to answer;
    // a lost one is listed: its missing receipt is part of the story
    .filter((i) => i.live || i.liveness === "lost" || latest.has(i.name))
    .map((i) => ({ instance: i.name, live: i.live, receipt: latest.get(i.name) ?? null }));
  return { abort, rows };
}
