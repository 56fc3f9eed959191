import { z } from "zod";
import type { RequestDef } from "./socket-catalog";

/**
 * Abort receipts: for every abort, what each instance's agent did about it — when the abort reached it, how each
 * recipe script that was running stopped (TERM, KILL after the grace), and whether its report was sent afterwards.
 * Aborts are numbered per run from 1: a reset followed by a new abort is the next number, so each instance has at
 * most one receipt per abort.
 */

export const StopSignal = z.enum(["TERM", "KILL"]);
export type StopSignal = z.infer<typeof StopSignal>;

/** One recipe script that was running when the abort reached the agent, and how it ended. */
export const ScriptStop = z.strictObject({
  target: z.string().min(1).max(64),
  pid: z.number().int().positive().max(2_147_483_647),
  /** signals sent to its process group, in order: none when it exited on its own (an ss-* command failed it) */
  signals: z.array(StopSignal).max(2),
  /** null when a signal ended it */
  exitCode: z.number().int().min(0).max(255).nullable(),
  exitSignal: z
    .string()
    .regex(/^SIG[A-Z0-9]+$/, "must be a signal name like SIGKILL")
    .max(16)
    .nullable(),
});
export type ScriptStop = z.infer<typeof ScriptStop>;

/** The report after the abort: not sent yet, uploaded, or not sent (the upload failed or the run ended first). */
export const ReceiptReport = z.enum(["pending", "sent", "failed"]);
export type ReceiptReport = z.infer<typeof ReceiptReport>;

/** What the agent says about one abort; sent again (a higher revision) once its report is sent or has failed. */
export const AbortReceiptBody = z.strictObject({
  /**
   * the run's seq of the state in which the abort reached the agent: the server counts the aborts up to it, so a
   * receipt that arrives after a reset still names the abort it is about
   */
  seenSeq: z.number().int().positive(),
  reachedAt: z.iso.datetime(),
  scripts: z.array(ScriptStop).max(64),
  report: ReceiptReport,
  reportError: z.string().max(500).nullable(),
  revision: z.number().int().min(1).max(1000),
});
export type AbortReceiptBody = z.infer<typeof AbortReceiptBody>;

/** A receipt as stored: the agent's account, whose instance and which abort it is about, and when it arrived. */
export const AbortReceipt = z.object({
  instance: z.string(),
  /** the abort's number in the run (1 for the first, then one more after each reset) */
  abort: z.number().int().positive(),
  revision: z.number().int(),
  reachedAt: z.string(),
  receivedAt: z.string(),
  scripts: z.array(ScriptStop),
  report: ReceiptReport,
  reportError: z.string().nullable(),
});
export type AbortReceipt = z.infer<typeof AbortReceipt>;

export const AbortReceiptList = z.object({
  /** the number of the abort in force, null when the run is not aborted */
  currentAbort: z.number().int().positive().nullable(),
  receipts: z.array(AbortReceipt),
});
export type AbortReceiptList = z.infer<typeof AbortReceiptList>;

/** `TERM → exit 3`, `TERM, KILL → SIGKILL`, `exited on its own → exit 8`: one script's line, for the UI and the CLI. */
export function describeStop(s: ScriptStop): string {
  const how = s.signals.length ? s.signals.join(", ") : "exited on its own";
  const end = s.exitSignal ?? (s.exitCode === null ? "?" : `exit ${s.exitCode}`);
  return `${how} → ${end}`;
}

export function describeReport(r: Pick<AbortReceipt, "report" | "reportError">): string {
  if (r.report === "sent") return "yes";
  if (r.report === "pending") return "not yet";
  return r.reportError ? `no (${r.reportError})` : "no";
}

/** What the agent sends about an abort (protocol/agent-socket.ts takes it among its requests). */
export const ABORT_RECEIPT_AGENT_REQUESTS = {
  "abort:receipt": {
    summary: "What this agent did about an abort (scripts stopped, report sent): stored per instance and abort",
    request: AbortReceiptBody.extend({ requestId: z.string().min(1).max(100).optional() }),
    response: z.object({ abort: z.number().int(), revision: z.number().int() }),
  },
} satisfies Record<string, RequestDef>;
