import type { AbortReceiptBody } from "../protocol/abort-receipt.js";
import type { Ack } from "../protocol/ack.js";
import type { ScriptWatch } from "./script-runner.js";

interface Open {
  body: AbortReceiptBody;
  /** every script that was running has exited: the receipt can be sent */
  stopped: boolean;
}

const MAX_ERROR = 500;

/**
 * The agent's receipt for the abort in force (protocol/abort-receipt.ts): opened when the abort reaches the agent,
 * sent once the scripts that were running have exited, and again when something is added — a KILL that a child left
 * in a script's group needed after the grace, the report that follows sent (or not). The link re-sends each until
 * the server acknowledges it; the server keeps the highest revision.
 */
export class AbortReceipts {
  private current: Open | null = null;

  constructor(
    private readonly send: (body: AbortReceiptBody) => Promise<Ack<unknown>>,
    private readonly log: (line: string) => void,
  ) {}

  /** The abort reached the agent in the run's state `seenSeq`, while `scripts` were running. */
  begin(seenSeq: number, scripts: ScriptWatch[]): void {
    const open: Open = {
      body: {
        seenSeq,
        reachedAt: new Date().toISOString(),
        scripts: [],
        report: "pending",
        reportError: null,
        revision: 0,
      },
      stopped: false,
    };
    this.current = open;
    void Promise.all(scripts.map((s) => s.exited)).then((all) => {
      // one that was being started when the abort came and could not be ran nothing
      const started = all.flatMap((stop, i) => (stop ? [{ stop, watch: scripts[i] }] : []));
      open.body.scripts = started.map((s) => s.stop);
      open.stopped = true;
      this.post(open);
      started.forEach(({ stop, watch }, i) => {
        void watch.graceOver.then((signals) => {
          if (signals.length === stop.signals.length) return;
          open.body.scripts[i] = { ...stop, signals };
          this.post(open);
        });
      });
    });
  }

  /** A report upload ended after the abort: `error` null when it was sent. */
  reportDone(error: string | null): void {
    const open = this.current;
    if (open?.body.report !== "pending") return;
    open.body.report = error === null ? "sent" : "failed";
    open.body.reportError = error === null ? null : error.slice(0, MAX_ERROR);
    if (open.stopped) this.post(open);
  }

  /** The agent stops: a report still pending will not be sent any more. */
  stopping(): void {
    this.reportDone("the agent stopped before a report was sent after the abort");
  }

  private post(open: Open): void {
    open.body.revision++;
    void this.send({ ...open.body, scripts: [...open.body.scripts] }).then((ack) => {
      if (!ack.ok) this.log(`abort receipt refused: ${ack.error.code}: ${ack.error.message}`);
    });
  }
}
