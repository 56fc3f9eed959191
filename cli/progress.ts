import { BARRIER_STATES, type RunDetail, type RunEvent, type RunState, TERMINAL_STATES } from "../protocol/run.js";
import { receiptLine } from "./abort-receipts.js";
import { elapsed, size, when } from "./format.js";

const who = (actor: string) => actor.replace(/^(node|user):/, "");

/**
 * Renders a followed run as lines: each state as it is entered, per-instance completions of the barrier
 * states (`[00:03] Executing  (apache.1 ✓, client.1 …)`), aborts, scaling and reports as they happen.
 * Times are elapsed since the run was created, from the server's event timestamps.
 */
export class RunProgress {
  private readonly start: number;
  private state: RunState | null = null;
  /** live instances → completed the current state */
  private readonly instances = new Map<string, boolean>();
  ended: RunState | null = null;
  /** the run reached Ready and keep-running kept its machines: following it further would wait for a person */
  kept: { keepRunning: string; aborted: boolean } | null = null;
  /** the orchestrator's report of the kept run has arrived (or failed): nothing more comes without a person */
  private keptReported = false;
  abort: string | null;

  constructor(
    run: RunDetail,
    private readonly write: (line: string) => void,
  ) {
    this.start = Date.parse(run.createdAt);
    this.abort = run.abort;
    for (const i of run.instances) if (i.live) this.instances.set(i.name, false);
  }

  private line(at: string, text: string): void {
    this.write(`[${elapsed(Date.parse(at) - this.start)}] ${text}`);
  }

  private completions(): string {
    const names = [...this.instances.keys()].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    return names.map((n) => `${n} ${this.instances.get(n) ? "✓" : "…"}`).join(", ");
  }

  /** Returns true when the run has ended, or is kept in Ready (it waits there for someone to terminate it). */
  handle(e: RunEvent): boolean {
    const b = e.body;
    switch (b.type) {
      case "created":
        for (const i of b.instances) if (!this.instances.has(i)) this.instances.set(i, false);
        break;
      case "state":
        this.state = b.to;
        for (const k of this.instances.keys()) this.instances.set(k, false);
        this.line(e.at, b.to);
        if (TERMINAL_STATES.includes(b.to)) this.ended = b.to;
        break;
      case "instance":
        if (b.status === "completed" && b.state === this.state && this.instances.has(b.instance)) {
          this.instances.set(b.instance, true);
          if (BARRIER_STATES.includes(b.state)) this.line(e.at, `${b.state.padEnd(14)} (${this.completions()})`);
        } else if (b.status === "removed") this.instances.delete(b.instance);
        else if (b.status === "failed") this.line(e.at, `${b.instance} failed${b.detail ? `: ${b.detail}` : ""}`);
        else if (b.status === "unresponsive" || b.status === "back" || b.status === "lost") {
          if (b.status === "lost") this.instances.delete(b.instance);
          const what = b.status === "unresponsive" ? "UNRESPONSIVE" : b.status === "lost" ? "LOST" : "back";
          this.line(e.at, `${b.instance} ${what}${b.detail ? `: ${b.detail}` : ""}`);
        }
        break;
      case "server":
        this.line(e.at, b.status === "started" ? "server started" : "server stopping");
        break;
      case "scale":
        for (const n of b.added) this.instances.set(n, false);
        for (const n of b.removed) this.instances.delete(n);
        this.line(
          e.at,
          `scaling ${b.node}: ${[...b.added.map((n) => `+${n}`), ...b.removed.map((n) => `-${n}`)].join(" ")} (by ${who(e.actor)})`,
        );
        break;
      case "abort":
        if (b.first) this.abort = b.message;
        this.line(e.at, `ABORT by ${b.instance ?? who(e.actor)}: ${b.message}`);
        break;
      case "abort-reset":
        this.abort = null;
        this.line(e.at, `abort reset by ${who(e.actor)}`);
        break;
      case "abort-receipt":
        this.line(e.at, receiptLine(b));
        break;
      case "recovery-mode":
        this.line(e.at, `recovery mode ${b.on ? "on: instances that never came up are skipped" : "off"}`);
        break;
      case "terminate":
        this.line(e.at, `terminate requested by ${who(e.actor)}`);
        break;
      case "lease":
        if (b.status === "expired") this.line(e.at, `LEASE EXPIRED: ${b.message}`);
        break;
      case "kept":
        this.kept = { keepRunning: b.keepRunning, aborted: b.aborted };
        this.line(e.at, `Ready: machines kept up (keep-running ${b.keepRunning}${b.aborted ? ", run aborted" : ""})`);
        if (b.until)
          this.line(e.at, `terminated at ${when(b.until)} unless extended (slipstream extend RUN --hours N)`);
        break;
      case "kept-extended":
        this.line(e.at, `kept longer by ${who(e.actor)}: terminated at ${when(b.until)}`);
        break;
      case "kept-expired":
        this.line(e.at, `KEPT RUN EXPIRED: ${b.message}`);
        break;
      case "report":
        this.line(e.at, `report ${b.name} (${size(b.size)})`);
        if (this.kept && b.instance === null) this.keptReported = true;
        break;
      case "error":
        this.line(e.at, `error: ${b.message}`);
        if (this.kept) this.keptReported = true;
        break;
      case "storage":
        this.line(e.at, b.status === "full" ? `STORAGE FULL since ${b.since}: ${b.cause}` : "storage back");
        break;
      case "stuck":
        this.line(e.at, `STUCK (${b.diagnosis.kind}): ${b.diagnosis.sentence}`);
        break;
      case "param":
        // ss-display messages: what a recipe says it is doing
        if (b.key.endsWith(":statecustom") && b.value) this.line(e.at, `${b.key.split(":")[0]}: ${b.value}`);
        break;
      default:
        break;
    }
    return this.ended !== null || (this.kept !== null && this.keptReported);
  }
}
