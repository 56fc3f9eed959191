import type { IncomingMessage } from "node:http";
import { API } from "../../../protocol/catalog/index.js";
import { SlipError } from "../../../protocol/errors.js";
import { sameSecret } from "../../auth/cookies.js";
import type { AppContext } from "../../context.js";
import { bearer } from "../respond.js";
import { type Router, SENT } from "../router.js";

/**
 * Who may scrape: the operator's SLIPSTREAM_METRICS_TOKEN (a scraper needs no user account), or an admin's API
 * token. Metrics name no user or secret, but they tell how busy the server is and what runs: not for everyone.
 */
function checkScraper(app: AppContext, req: IncomingMessage): void {
  const token = bearer(req);
  if (!token) {
    throw new SlipError("UNAUTHORIZED", "authorization: Bearer SLIPSTREAM_METRICS_TOKEN or an admin's API token");
  }
  const expected = app.ops.metricsToken;
  if (expected && sameSecret(token, expected)) return;
  const c = app.auth.checkToken(token);
  if (!c.ok) throw new SlipError("UNAUTHORIZED", `authorization: not the metrics token nor an API token (${c.reason})`);
  if (c.user.role !== "admin") throw new SlipError("FORBIDDEN", "only an admin's token may read the metrics");
}

/** /api/ready for load balancers and /metrics for Prometheus (/api/health is with auth). */
export function registerOperationsRoutes(router: Router, app: AppContext): void {
  router
    .route(API.ready, () => {
      const refusal = app.ops.lifecycle.notReady();
      if (refusal) throw refusal;
      return { ok: true as const };
    })
    .route(API.metrics, async ({ req, res }) => {
      checkScraper(app, req);
      const { contentType, body } = await app.ops.metrics.render();
      res.writeHead(200, {
        "content-type": contentType,
        "content-length": Buffer.byteLength(body),
        "cache-control": "no-store",
      });
      res.end(body);
      return SENT;
    });
}
