import { z } from "zod";
import { endpoint } from "../endpoint";
import { Ok } from "./common";

/** At most this many webhooks per user. */
export const MAX_WEBHOOKS_PER_USER = 10;
/** A webhook URL's longest form. */
export const MAX_WEBHOOK_URL = 2048;
/** Attempts of one delivery (the first and its retries, 1 s, 2 s, 4 s, 8 s apart, at most 60 s). */
export const WEBHOOK_ATTEMPTS = 5;

export const WebhookFormat = z.enum(["json", "slack"]);
export type WebhookFormat = z.infer<typeof WebhookFormat>;

/**
 * What a delivery tells: the run ended (Done, Aborted, Cancelled), was aborted, was kept in Ready, was terminated
 * because it was kept past its limit (`run.expired`, protocol/kept.ts); or a test.
 */
export const WebhookEvent = z.enum(["run.ended", "run.aborted", "run.kept", "run.expired", "ping"]);
export type WebhookEvent = z.infer<typeof WebhookEvent>;

export const WebhookUrl = z
  .string()
  .max(MAX_WEBHOOK_URL, `at most ${MAX_WEBHOOK_URL} characters`)
  .refine((u) => {
    try {
      const p = new URL(u);
      return (p.protocol === "http:" || p.protocol === "https:") && p.hostname !== "";
    } catch {
      return false;
    }
  }, "an http:// or https:// URL")
  .refine((u) => {
    try {
      const p = new URL(u);
      return p.username === "" && p.password === "";
    } catch {
      return true;
    }
  }, "no credentials in the URL (use the secret)");

/** POST /api/webhooks */
export const WebhookBody = z.object({
  url: WebhookUrl,
  /**
   * Signs each body: `X-SlipStream-Signature-256: sha256=<hex HMAC-SHA256 of the body>`. At least 8 characters, as
   * any stored secret (it is redacted from logs by its text).
   */
  secret: z
    .string()
    .min(8, "at least 8 characters")
    .max(256, "at most 256 characters")
    .optional()
    .describe(
      "signs each delivery: header X-SlipStream-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with this secret>, as GitHub's X-Hub-Signature-256; compare it in constant time",
    ),
  /** `slack`: the body is `{ "text": "…" }`, what Slack's (and Mattermost's) incoming webhooks take */
  format: WebhookFormat.default("json").describe(
    'json: the WebhookPayload; slack: { "text": "…" } for a Slack-compatible incoming webhook',
  ),
});
export type WebhookBody = z.infer<typeof WebhookBody>;

export const WebhookView = z.object({
  id: z.number().int(),
  url: z.string(),
  format: WebhookFormat,
  /** whether bodies are signed (the secret itself is never shown again) */
  signed: z.boolean(),
  createdAt: z.string(),
});
export type WebhookView = z.infer<typeof WebhookView>;

export const WebhookAttempt = z.object({
  attempt: z.number().int(),
  at: z.string(),
  /** the receiver's HTTP status; null when none came (refused, timed out) */
  responseCode: z.number().int().nullable(),
  error: z.string().nullable(),
  ms: z.number().int(),
});
export type WebhookAttempt = z.infer<typeof WebhookAttempt>;

export const WebhookDelivery = z.object({
  id: z.number().int(),
  webhookId: z.number().int(),
  url: z.string(),
  event: WebhookEvent,
  runId: z.string().nullable(),
  /** pending: an attempt is due (`nextAttemptAt`); delivered: answered 2xx; failed: every attempt failed */
  status: z.enum(["pending", "delivered", "failed"]),
  attempts: z.number().int(),
  responseCode: z.number().int().nullable(),
  error: z.string().nullable(),
  nextAttemptAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  attemptLog: z.array(WebhookAttempt),
});
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

/**
 * The JSON body of a `json` webhook (`X-SlipStream-Event` names `event`). `run` is null for a test (`ping`).
 */
export const WebhookPayload = z.object({
  event: WebhookEvent,
  deliveredFor: z.string(),
  at: z.string(),
  /** why, in the run's own words: a `run.expired`'s expiry event ("kept for 24 h, its limit: terminated") */
  reason: z.string().optional(),
  run: z
    .object({
      id: z.string(),
      module: z.string(),
      state: z.string(),
      abort: z.string().nullable(),
      owner: z.string(),
      keepRunning: z.string(),
      tags: z.array(z.string()),
      links: z.object({ run: z.string(), api: z.string(), reports: z.string() }),
    })
    .nullable(),
});
export type WebhookPayload = z.infer<typeof WebhookPayload>;

const WebhookParams = z.object({ id: z.string().regex(/^[1-9][0-9]{0,15}$/, "a webhook id") });

export const webhookRoutes = {
  listWebhooks: endpoint({
    method: "GET",
    path: "/api/webhooks",
    tag: "webhooks",
    auth: "user",
    summary: "The caller's webhooks (POSTed when a run they launched ends, aborts or is kept in Ready)",
    response: z.object({ webhooks: z.array(WebhookView), limit: z.number().int() }),
  }),
  createWebhook: endpoint({
    method: "POST",
    path: "/api/webhooks",
    tag: "webhooks",
    auth: "user",
    summary: `Add a webhook (http or https, at most ${MAX_WEBHOOKS_PER_USER} per user; redirects are not followed)`,
    body: WebhookBody,
    status: 201,
    response: WebhookView,
    errors: ["LIMIT_EXCEEDED", "CONFLICT"],
  }),
  deleteWebhook: endpoint({
    method: "DELETE",
    path: "/api/webhooks/:id",
    tag: "webhooks",
    auth: "user",
    summary: "Delete one of the caller's webhooks (its deliveries and pending retries go with it)",
    params: WebhookParams,
    response: Ok,
    errors: ["NOT_FOUND"],
  }),
  webhookDeliveries: endpoint({
    method: "GET",
    path: "/api/webhooks/deliveries",
    tag: "webhooks",
    auth: "user",
    summary: "The last deliveries to the caller's webhooks, newest first (each with its attempts)",
    query: z.object({
      webhookId: z.coerce.number().int().positive().optional(),
      limit: z.coerce.number().int().min(1).max(100).default(20),
    }),
    response: z.object({ deliveries: z.array(WebhookDelivery) }),
  }),
  testWebhook: endpoint({
    method: "POST",
    path: "/api/webhooks/:id/test",
    tag: "webhooks",
    auth: "user",
    summary: "Send a test delivery (event `ping`) to one of the caller's webhooks; answers it queued",
    params: WebhookParams,
    status: 202,
    response: WebhookDelivery,
    errors: ["NOT_FOUND"],
  }),
};
