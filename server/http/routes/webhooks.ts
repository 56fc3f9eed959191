import { API } from "../../../protocol/catalog/index.js";
import { MAX_WEBHOOKS_PER_USER } from "../../../protocol/catalog/webhooks.js";
import type { AppContext } from "../../context.js";
import { webhooksOf } from "../../notify/index.js";
import type { Router } from "../router.js";

/** The caller's webhooks (server/notify/webhooks.ts): POSTed when a run they launched ends, aborts or is kept. */
export function registerWebhookRoutes(router: Router, app: AppContext): void {
  router
    .route(API.listWebhooks, ({ user }) => ({ webhooks: webhooksOf(app).list(user.id), limit: MAX_WEBHOOKS_PER_USER }))
    .route(API.createWebhook, ({ user, body }) => webhooksOf(app).create(user.id, body))
    .route(API.webhookDeliveries, ({ user, query }) => ({ deliveries: webhooksOf(app).deliveries(user.id, query) }))
    .route(API.deleteWebhook, ({ user, params }) => {
      webhooksOf(app).remove(user.id, Number(params.id));
      return { ok: true as const };
    })
    .route(API.testWebhook, ({ user, params }) => webhooksOf(app).test(user.id, user.username, Number(params.id)));
}
