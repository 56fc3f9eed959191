import { type AbortReceipt, type AbortReceiptList, describeReport, describeStop } from "../protocol/abort-receipt.js";
import type { RunDetail } from "../protocol/run.js";
import { when } from "./format.js";

/**
 * The `abort receipts` block of `status`: every abort's receipts, and for the abort in force the instances whose
 * agent has not answered yet. Empty when the run was never aborted.
 */
export function receiptLines(run: RunDetail, list: AbortReceiptList): string[] {
  const aborts = new Set(list.receipts.map((r) => r.abort));
  if (list.currentAbort !== null) aborts.add(list.currentAbort);
  if (aborts.size === 0) return [];
  const lines = ["abort receipts"];
  for (const abort of [...aborts].sort((a, b) => a - b)) {
    const current = abort === list.currentAbort;
    lines.push(`  abort #${abort}${current ? " (in force)" : " (reset)"}`);
    const receipts = list.receipts.filter((r) => r.abort === abort);
    for (const r of receipts) {
      lines.push(`    ${r.instance.padEnd(12)} reached ${when(r.reachedAt)}  report sent: ${describeReport(r)}`);
      if (r.scripts.length === 0) lines.push("      no script was running");
      for (const s of r.scripts) lines.push(`      ${s.target} pid ${s.pid}: ${describeStop(s)}`);
    }
    if (!current) continue;
    const answered = new Set(receipts.map((r) => r.instance));
    for (const i of run.instances) {
      if (answered.has(i.name) || !(i.live || i.liveness === "lost")) continue;
      lines.push(`    ${i.name.padEnd(12)} ${i.live ? "waiting for the agent" : "no answer: its agent is lost"}`);
    }
  }
  return lines;
}

/** A receipt as `run --wait` shows it when it arrives. */
export function receiptLine(r: AbortReceipt): string {
  const scripts = r.scripts.length ? r.scripts.map((s) => `${s.target} ${describeStop(s)}`).join(", ") : "no script";
  return `${r.instance} abort #${r.abort} receipt: ${scripts}; report sent: ${describeReport(r)}`;
}
