import { createHmac } from "node:crypto";
import type { Logger } from "pino";
import {
  MAX_WEBHOOKS_PER_USER,
  WEBHOOK_ATTEMPTS,
  type WebhookAttempt,
  type WebhookBody,
  type WebhookDelivery,
  type WebhookEvent,
  type WebhookPayload,
  type WebhookView,
} from "../../protocol/catalog/webhooks.js";
import { fieldError, SlipError } from "../../protocol/errors.js";
import type { Db } from "../db/open.js";
import type { SqlRow } from "../db/rows.js";
import type { webhookDeliveries, webhooks } from "../db/schema.js";
import type { Secrets } from "../secrets.js";
import { slackEscape, WebhookOutbox } from "./outbox.js";
import { postOnce } from "./post.js";

type HookRow = SqlRow<typeof webhooks>;
type DeliveryRow = SqlRow<typeof webhookDeliveries>;

/** The header carrying `sha256=<hex HMAC-SHA256 of the raw body under the webhook's secret>` (as GitHub's). */
export const SIGNATURE_HEADER = "X-SlipStream-Signature-256";
export const EVENT_HEADER = "X-SlipStream-Event";
export const DELIVERY_HEADER = "X-SlipStream-Delivery";

/** The delivery's signature header value for a body and a secret. */
export const signature = (secret: string, body: string): string =>
  `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

export interface WebhookOptions {
  /** the wait before the second attempt; each next one waits twice as long (default 1 s) */
  backoffMs?: number;
  /** the longest wait between attempts (default 60 s) */
  maxBackoffMs?: number;
  /** an attempt with no answer by then fails (default 10 s) */
  timeoutMs?: number;
}

/** Attempts in flight at once; the others wait their turn. */
const CONCURRENCY = 8;

const nowIso = () => new Date().toISOString();

/**
 * Per-profile webhooks: when a run ends (Done, Aborted, Cancelled), is aborted or is kept in Ready, its owner's
 * webhooks are sent the news as JSON (or Slack's `{ text }`), signed with HMAC-SHA256 of the body. Each delivery is
 * a row written by the run's own transaction (outbox.ts), attempted once that transaction has committed; attempts
 * are retried with exponential backoff and recorded on the row, and pending ones are picked up again at boot
 * (`reconcile`). The row's id is the delivery id every attempt carries, so a receiver can drop a repeat.
 * Redirects are never followed (a 3xx is a failed attempt naming where it pointed), and each attempt times out.
 */
export class Webhooks {
  private readonly timers = new Map<number, ReturnType<typeof setTimeout>>();
  private readonly queue: number[] = [];
  private readonly queued = new Set<number>();
  private inFlight = 0;
  /** deliveries being attempted: one is never sent twice at once, whoever schedules it again */
  private readonly attempting = new Set<number>();
  private readonly controllers = new Set<AbortController>();
  private stopped = false;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly timeoutMs: number;
  /** written to by the runs' transactions: it outlives a stop of the sender (rows wait for the next start) */
  readonly outbox: WebhookOutbox;

  constructor(
    private readonly deps: {
      db: Db;
      log: Logger;
      secrets: Secrets;
      /** the URL people open the dashboard at (links in payloads) */
      baseUrl: () => string;
    },
    opts: WebhookOptions = {},
  ) {
    this.backoffMs = opts.backoffMs ?? 1000;
    this.maxBackoffMs = opts.maxBackoffMs ?? 60_000;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    // a timer, not a call: the row's transaction may still be open, and only a committed row is sent
    this.outbox = new WebhookOutbox(deps.db.$client, deps.baseUrl, (id) => this.schedule(id, 0));
  }

  private get sql() {
    return this.deps.db.$client;
  }

  /** Resumes the deliveries a stop (or a crash) left pending; new ones come from the outbox. */
  start(): void {
    this.reconcile();
  }

  /** Every pending delivery is attempted again when it is due (at once when its time passed while stopped). */
  reconcile(): void {
    const rows = this.sql
      .prepare("select id, next_attempt_at from webhook_deliveries where status = 'pending' order by id")
      .all() as Pick<DeliveryRow, "id" | "next_attempt_at">[];
    for (const r of rows) this.schedule(r.id, r.next_attempt_at ? Date.parse(r.next_attempt_at) - Date.now() : 0);
    if (rows.length > 0) this.deps.log.info({ deliveries: rows.length }, "resumed pending webhook deliveries");
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const c of this.controllers) c.abort();
  }

  // ---- the caller's webhooks ----------------------------------------------------------------------------------

  list(userId: number): WebhookView[] {
    const rows = this.sql.prepare("select * from webhooks where user_id = ? order by id").all(userId) as HookRow[];
    return rows.map(viewOf);
  }

  create(userId: number, body: WebhookBody): WebhookView {
    const url = new URL(body.url).toString();
    const create = this.sql.transaction(() => {
      const existing = this.sql.prepare("select url from webhooks where user_id = ?").all(userId) as { url: string }[];
      if (existing.length >= MAX_WEBHOOKS_PER_USER) {
        throw fieldError(
          "url",
          `at most ${MAX_WEBHOOKS_PER_USER} webhooks per user; delete one first`,
          "LIMIT_EXCEEDED",
        );
      }
      if (existing.some((h) => h.url === url))
        throw fieldError("url", "you already have a webhook for this URL", "CONFLICT");
      const secret = body.secret === undefined ? null : this.deps.secrets.seal(body.secret);
      return this.sql
        .prepare("insert into webhooks (user_id, url, secret, format) values (?, ?, ?, ?) returning *")
        .get(userId, url, secret, body.format) as HookRow;
    });
    const hook = create();
    this.outbox.refresh();
    return viewOf(hook);
  }

  remove(userId: number, id: number): void {
    const hook = this.hookOf(userId, id);
    const ids = this.sql.prepare("select id from webhook_deliveries where webhook_id = ?").all(hook.id) as {
      id: number;
    }[];
    this.sql.prepare("delete from webhooks where id = ?").run(hook.id);
    this.outbox.refresh();
    for (const { id: d } of ids) this.unschedule(d);
  }

  deliveries(userId: number, opts: { webhookId?: number; limit: number }): WebhookDelivery[] {
    const rows = this.sql
      .prepare(
        `select d.*, w.url from webhook_deliveries d join webhooks w on w.id = d.webhook_id
         where w.user_id = ? and (? is null or w.id = ?) order by d.id desc limit ?`,
      )
      .all(userId, opts.webhookId ?? null, opts.webhookId ?? null, opts.limit) as (DeliveryRow & { url: string })[];
    return rows.map(deliveryOf);
  }

  /** A `ping` delivery to one webhook, attempted at once (and retried like any other). */
  test(userId: number, username: string, id: number): WebhookDelivery {
    const hook = this.hookOf(userId, id);
    const payload: WebhookPayload = { event: "ping", deliveredFor: username, at: nowIso(), run: null };
    const body =
      hook.format === "slack"
        ? JSON.stringify({ text: `SlipStream test delivery for ${slackEscape(username)}: this webhook works.` })
        : JSON.stringify(payload);
    const deliveryId = this.outbox.insert(hook.id, null, null, "ping", body);
    if (deliveryId === null) throw new SlipError("INTERNAL", "the test delivery was not recorded");
    const row = this.sql
      .prepare("select d.*, w.url from webhook_deliveries d join webhooks w on w.id = d.webhook_id where d.id = ?")
      .get(deliveryId) as DeliveryRow & { url: string };
    return deliveryOf(row);
  }

  private hookOf(userId: number, id: number): HookRow {
    const hook = this.sql.prepare("select * from webhooks where id = ? and user_id = ?").get(id, userId) as
      | HookRow
      | undefined;
    if (!hook) throw new SlipError("NOT_FOUND", `you have no webhook ${id}`);
    return hook;
  }

  // ---- attempts -----------------------------------------------------------------------------------------------

  private schedule(id: number, delayMs: number): void {
    if (this.stopped) return;
    this.unschedule(id);
    const t = setTimeout(
      () => {
        this.timers.delete(id);
        this.enqueue(id);
      },
      Math.max(0, delayMs),
    );
    t.unref();
    this.timers.set(id, t);
  }

  private unschedule(id: number): void {
    const t = this.timers.get(id);
    if (t) clearTimeout(t);
    this.timers.delete(id);
  }

  private enqueue(id: number): void {
    if (this.queued.has(id)) return;
    this.queued.add(id);
    this.queue.push(id);
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.inFlight < CONCURRENCY && this.queue.length > 0) {
      const id = this.queue.shift()!;
      this.queued.delete(id);
      // the attempt under way reschedules it if it fails
      if (this.attempting.has(id)) continue;
      this.attempting.add(id);
      this.inFlight++;
      this.attempt(id)
        .catch((err) => this.deps.log.error({ err, delivery: id }, "webhook attempt failed"))
        .finally(() => {
          this.attempting.delete(id);
          this.inFlight--;
          this.pump();
        });
    }
  }

  private async attempt(id: number): Promise<void> {
    const row = this.sql
      .prepare(
        `select d.*, w.url, w.secret from webhook_deliveries d join webhooks w on w.id = d.webhook_id
         where d.id = ? and d.status = 'pending'`,
      )
      .get(id) as (DeliveryRow & { url: string; secret: string | null }) | undefined;
    if (!row) return; // delivered, given up, or its webhook deleted
    const attempt = row.attempts + 1;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "SlipStream-Webhook/1",
      [EVENT_HEADER]: row.event,
      [DELIVERY_HEADER]: String(row.id),
    };
    if (row.secret !== null) headers[SIGNATURE_HEADER] = signature(this.deps.secrets.open(row.secret), row.payload);
    const started = Date.now();
    const at = new Date(started).toISOString();
    let responseCode: number | null = null;
    let error: string | null = null;
    const controller = new AbortController();
    this.controllers.add(controller);
    const timer = setTimeout(() => controller.abort(new Error("timed out")), this.timeoutMs);
    try {
      // a receiver's redirect is never followed (it could point anywhere, this server's neighbours included)
      const res = await postOnce(row.url, headers, row.payload, controller.signal);
      responseCode = res.status;
      if (res.status >= 300 && res.status < 400) {
        const location = res.location;
        error = `redirected${location ? ` to ${location.slice(0, 200)}` : ""}; redirects are not followed`;
      } else if (res.status < 200 || res.status >= 300) {
        error = `answered ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`;
      }
    } catch (err) {
      error = this.stopped
        ? "the server stopped during the attempt"
        : controller.signal.aborted
          ? `no answer within ${Math.round(this.timeoutMs / 1000)} s`
          : describeFetchError(err);
    } finally {
      clearTimeout(timer);
      this.controllers.delete(controller);
    }
    if (this.stopped && error !== null) return; // tried again at the next start
    const ms = Date.now() - started;
    const log: WebhookAttempt[] = [
      ...(JSON.parse(row.attempt_log) as WebhookAttempt[]),
      { attempt, at, responseCode, error, ms },
    ];
    const status = error === null ? "delivered" : attempt >= WEBHOOK_ATTEMPTS ? "failed" : "pending";
    const wait = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** (attempt - 1));
    const next = status === "pending" ? new Date(Date.now() + wait).toISOString() : null;
    this.sql
      .prepare(
        `update webhook_deliveries set status = ?, attempts = ?, attempt_log = ?, response_code = ?, error = ?,
           next_attempt_at = ?, updated_at = ? where id = ?`,
      )
      .run(status, attempt, JSON.stringify(log), responseCode, error, next, nowIso(), id);
    if (status === "pending") this.schedule(id, wait);
    else if (status === "failed") {
      this.deps.log.warn({ delivery: id, url: row.url, error }, "webhook delivery failed after every attempt");
    }
  }
}

function describeFetchError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const text = e.code && !e.message.includes(e.code) ? `${e.code} (${e.message})` : e.message;
  return (text || String(err)).slice(0, 500);
}

function viewOf(r: HookRow): WebhookView {
  return { id: r.id, url: r.url, format: r.format, signed: r.secret !== null, createdAt: r.created_at };
}

function deliveryOf(r: DeliveryRow & { url: string }): WebhookDelivery {
  return {
    id: r.id,
    webhookId: r.webhook_id,
    url: r.url,
    event: r.event as WebhookEvent,
    runId: r.run_id,
    status: r.status,
    attempts: r.attempts,
    responseCode: r.response_code,
    error: r.error,
    nextAttemptAt: r.next_attempt_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    attemptLog: JSON.parse(r.attempt_log) as WebhookAttempt[],
  };
}
