import type Database from "better-sqlite3";
import type { WebhookEvent, WebhookPayload } from "../../protocol/catalog/webhooks.js";
import { type RunEvent, TERMINAL_STATES } from "../../protocol/run.js";
import type { SqlRow } from "../db/rows.js";
import type { webhooks } from "../db/schema.js";
import type { RunTx } from "../runs/run-tx.js";

type HookRow = SqlRow<typeof webhooks>;

/** Deliveries kept per webhook (older ones that are settled are dropped). */
const KEEP_PER_HOOK = 50;
/** An abort message is cut to this in a payload. */
const MAX_MESSAGE = 4096;

const nowIso = () => new Date().toISOString();

/** A run event that is news for its owner's webhooks. */
interface News {
  event: WebhookEvent;
  seq: number;
  state: string | null;
  abort: string | null;
  reason?: string;
}

/** The events of a transaction its owner's webhooks are told about (most transactions have none). */
function newsOf(events: RunEvent[]): News[] {
  const news: News[] = [];
  for (const e of events) {
    const b = e.body;
    if (b.type === "state" && TERMINAL_STATES.includes(b.to)) {
      news.push({ event: "run.ended", seq: e.seq, state: b.to, abort: null });
    } else if (b.type === "abort" && b.first) {
      news.push({ event: "run.aborted", seq: e.seq, state: null, abort: b.message });
    } else if (b.type === "kept") {
      news.push({ event: "run.kept", seq: e.seq, state: "Ready", abort: null });
    } else if (b.type === "kept-expired") {
      // the owner learns why the machines they kept went away (the run.ended delivery follows)
      news.push({ event: "run.expired", seq: e.seq, state: "Finalizing", abort: null, reason: b.message });
    }
  }
  return news;
}

/**
 * The webhooks' outbox: a run's deliveries are written by the very transaction that writes the events they tell
 * of (RunCommit calls `record` inside it), so the run's history and its deliveries are stored together or not at all
 * — a crash right after the commit cannot lose one. The sender (webhooks.ts) is told of each new row, and attempts
 * it only once its timer fires, after the synchronous transaction has committed; rows it never got to are pending
 * and resumed at the next boot.
 *
 * The run's write path pays nothing more unless the run's owner has a webhook: which users have one is kept in
 * memory (read at boot and whenever a webhook is added or removed).
 */
export class WebhookOutbox {
  private owners = new Set<number>();
  private readonly insertRow;
  private readonly trimRows;
  private readonly hooksOf;

  constructor(
    private readonly sql: Database.Database,
    /** the URL people open the dashboard at (links in payloads) */
    private readonly baseUrl: () => string,
    /** a delivery row was written (its transaction may still be open: the sender waits a turn) */
    readonly written: (id: number) => void,
  ) {
    this.insertRow = sql.prepare(
      `insert or ignore into webhook_deliveries (webhook_id, run_id, seq, event, payload, status, next_attempt_at, updated_at)
       values (?, ?, ?, ?, ?, 'pending', ?, ?) returning id`,
    );
    // the history is bounded: settled deliveries past the last KEEP_PER_HOOK go
    this.trimRows = sql.prepare(
      `delete from webhook_deliveries where webhook_id = ? and status != 'pending' and id <= coalesce(
         (select id from webhook_deliveries where webhook_id = ? order by id desc limit 1 offset ?), 0)`,
    );
    this.hooksOf = sql.prepare("select * from webhooks where user_id = ? order by id");
    this.refresh();
  }

  /** Reads again which users have a webhook (after one is added or removed). */
  refresh(): void {
    const rows = this.sql.prepare("select distinct user_id from webhooks").all() as { user_id: number }[];
    this.owners = new Set(rows.map((r) => r.user_id));
  }

  /** Inside a run's transaction: a delivery per owner's webhook and event that is news. Throws roll it back. */
  record(tx: RunTx): void {
    if (!this.owners.has(tx.rt.ownerId) || tx.events.length === 0) return;
    const news = newsOf(tx.events);
    if (news.length === 0) return;
    const hooks = this.hooksOf.all(tx.rt.ownerId) as HookRow[];
    for (const n of news) {
      const payload = this.payloadOf(tx, n);
      for (const hook of hooks) {
        const body = hook.format === "slack" ? JSON.stringify({ text: slackText(payload) }) : JSON.stringify(payload);
        this.insert(hook.id, tx.rt.id, n.seq, n.event, body);
      }
    }
  }

  /** Writes a pending delivery and tells the sender; its id, or null when this webhook already has one for the event. */
  insert(
    webhookId: number,
    runId: string | null,
    seq: number | null,
    event: WebhookEvent,
    body: string,
  ): number | null {
    const now = nowIso();
    const row = this.insertRow.get(webhookId, runId, seq, event, body, now, now) as { id: number } | undefined;
    this.trimRows.run(webhookId, webhookId, KEEP_PER_HOOK);
    if (row) this.written(row.id);
    return row?.id ?? null;
  }

  /** What the run looks like once the transaction commits (its runtime is updated only after). */
  private payloadOf(tx: RunTx, n: News): WebhookPayload {
    const rt = tx.rt;
    const base = this.baseUrl().replace(/\/+$/, "");
    const id = encodeURIComponent(rt.id);
    const abort = n.abort ?? tx.snapshot.context.abort;
    const payload: WebhookPayload = {
      event: n.event,
      deliveredFor: rt.owner,
      at: nowIso(),
      run: {
        id: rt.id,
        module: rt.spec.module,
        state: n.state ?? tx.state,
        abort: abort === null ? null : abort.slice(0, MAX_MESSAGE),
        owner: rt.owner,
        keepRunning: rt.keepRunning,
        tags: rt.tags,
        links: { run: `${base}/runs/${id}`, api: `${base}/api/runs/${id}`, reports: `${base}/api/runs/${id}/reports` },
      },
    };
    if (n.reason) payload.reason = n.reason;
    return payload;
  }
}

/** Slack's text escaping: `&`, `<` and `>` only (links are `<url|label>`). */
export const slackEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** What a `slack` webhook says: one message with the run, its state, its abort message and a link. */
export function slackText(p: WebhookPayload): string {
  const run = p.run;
  if (!run) return "SlipStream test delivery: this webhook works.";
  const what =
    p.event === "run.aborted"
      ? "was aborted"
      : p.event === "run.kept"
        ? "is kept in *Ready* (machines up until terminated)"
        : p.event === "run.expired"
          ? "was kept in Ready past its limit: terminated"
          : `ended *${run.state}*`;
  const icon = run.state === "Done" ? ":white_check_mark:" : p.event === "run.kept" ? ":pause_button:" : ":x:";
  const lines = [
    `${icon} Run <${run.links.run}|${slackEscape(run.module)}> ${what} (owner ${slackEscape(run.owner)})`,
    ...(p.reason ? [`> ${slackEscape(p.reason)}`] : []),
    ...(run.abort ? [`> ${slackEscape(run.abort).split("\n").join("\n> ")}`] : []),
  ];
  return lines.join("\n");
}
