import type { AppContext } from "../context.js";
import { type WebhookOptions, Webhooks } from "./webhooks.js";

/**
 * The webhooks of a running server, by its context (kept beside it rather than in AppContext, so the context's
 * shape stays the runs' and the sockets' own).
 */
const byApp = new WeakMap<AppContext, Webhooks>();

/**
 * Starts a server's webhooks: every run transaction records its deliveries in the outbox from now on, and the
 * deliveries left pending (a stop, a crash) are resumed (boot).
 */
export function startWebhooks(app: AppContext, baseUrl: () => string, opts?: WebhookOptions): Webhooks {
  const hooks = new Webhooks({ db: app.db, log: app.log, secrets: app.secrets, baseUrl }, opts);
  byApp.set(app, hooks);
  app.runs.commit.outbox = (tx) => hooks.outbox.record(tx);
  hooks.start();
  return hooks;
}

/** The server's webhooks (started with it in app.ts). */
export function webhooksOf(app: AppContext): Webhooks {
  const hooks = byApp.get(app);
  if (!hooks) throw new Error("the server's webhooks are not started");
  return hooks;
}

/** Stops sending; the outbox still records what the runs' last transactions owe (sent at the next start). */
export function stopWebhooks(app: AppContext): void {
  byApp.get(app)?.stop();
}
