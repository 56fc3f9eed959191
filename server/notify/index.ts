import type { AppContext } from "../context.js";
import { type WebhookOptions, Webhooks } from "./webhooks.js";

/**
 * The webhooks of a running server, by its context (kept beside it rather than in AppContext, so the context's
 * shape stays the runs' and the sockets' own).
 */
const byApp = new WeakMap<AppContext, Webhooks>();

/** Starts a server's webhooks: listens to committed run events and resumes pending deliveries (boot). */
export function startWebhooks(app: AppContext, baseUrl: () => string, opts?: WebhookOptions): Webhooks {
  const hooks = new Webhooks(
    {
      db: app.db,
      bus: app.bus,
      log: app.log,
      secrets: app.secrets,
      run: (runId) => {
        try {
          return app.runs.get(runId);
        } catch {
          return null;
        }
      },
      baseUrl,
    },
    opts,
  );
  byApp.set(app, hooks);
  hooks.start();
  return hooks;
}

/** The server's webhooks (started with it in app.ts). */
export function webhooksOf(app: AppContext): Webhooks {
  const hooks = byApp.get(app);
  if (!hooks) throw new Error("the server's webhooks are not started");
  return hooks;
}

export function stopWebhooks(app: AppContext): void {
  byApp.get(app)?.stop();
}
