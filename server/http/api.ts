import type { IncomingMessage } from "node:http";
import { SlipError } from "../../protocol/index.js";
import { sameSecret, sessionCookie } from "../auth/cookies.js";
import type { Signed } from "../auth/service.js";
import type { AppContext } from "../context.js";
import { clientIp, trustedProxyHops } from "./client-ip.js";
import { bearer } from "./respond.js";
import { type Gate, Router } from "./router.js";
import { registerAbortReceiptRoutes } from "./routes/abort-receipts.js";
import { registerAuthRoutes } from "./routes/auth.js";
import { registerCloudRoutes } from "./routes/clouds.js";
import { registerDebugInfoRoutes } from "./routes/debug-info.js";
import { registerDocsRoutes } from "./routes/docs.js";
import { registerKeptRoutes } from "./routes/kept.js";
import { registerModuleManageRoutes } from "./routes/module-manage.js";
import { registerModuleRoutes } from "./routes/modules.js";
import { registerOperationsRoutes } from "./routes/operations.js";
import { registerProfileRoutes } from "./routes/profile.js";
import { registerReplayRoutes } from "./routes/replay.js";
import { registerReportRoutes } from "./routes/reports.js";
import { registerResultRoutes } from "./routes/results.js";
import { registerRunCheckRoutes } from "./routes/run-checks.js";
import { registerRunRoutes } from "./routes/runs.js";
import { registerSettingsRoutes } from "./routes/settings.js";
import { registerUserRoutes } from "./routes/users.js";
import { registerWaitRoutes } from "./routes/waits.js";
import { registerWebhookRoutes } from "./routes/webhooks.js";

/**
 * The REST API under /api: every route is an entry of the catalog (protocol/catalog), registered by the file of
 * its resource in routes/. Who may call is the entry's `auth`, decided here once.
 */
export function createApi(app: AppContext): Router {
  const { auth } = app;
  const proxyHops = trustedProxyHops(process.env.TRUST_PROXY);
  const ipOf = (req: IncomingMessage) => clientIp(req, proxyHops);

  const gate: Gate = {
    /** The caller and the credential they came with (a password change or reset keeps that one). */
    signedIn(req): Signed {
      const token = bearer(req);
      if (token) {
        const c = auth.checkToken(token);
        if (!c.ok) throw new SlipError("UNAUTHORIZED", c.reason);
        return c;
      }
      const session = auth.session(sessionCookie(req));
      if (!session)
        throw new SlipError("UNAUTHORIZED", "sign in first: no valid token (slipstream login, or SLIPSTREAM_TOKEN)");
      // a cookie is sent by the browser on its own; a state change must also prove it comes from our page
      if (
        req.method !== "GET" &&
        req.method !== "HEAD" &&
        !sameSecret(req.headers["x-csrf-token"], session.csrfToken)
      ) {
        throw new SlipError("FORBIDDEN", "x-csrf-token header missing or wrong; reload the page");
      }
      return session;
    },
    agent(req) {
      const agent = app.agentByToken(bearer(req));
      if (!agent) throw new SlipError("UNAUTHORIZED", "agent token unknown or its run has ended");
      return agent;
    },
  };

  const router = new Router(gate);
  registerAuthRoutes(router, app, ipOf);
  registerUserRoutes(router, app);
  registerProfileRoutes(router, app);
  registerModuleRoutes(router, app);
  registerModuleManageRoutes(router, app);
  registerRunRoutes(router, app);
  registerRunCheckRoutes(router, app);
  registerWaitRoutes(router, app);
  registerReplayRoutes(router, app);
  registerKeptRoutes(router, app);
  registerReportRoutes(router, app);
  registerAbortReceiptRoutes(router, app);
  registerDebugInfoRoutes(router, app);
  registerResultRoutes(router, app);
  registerCloudRoutes(router, app);
  registerSettingsRoutes(router, app);
  registerDocsRoutes(router);
  registerOperationsRoutes(router, app);
  registerWebhookRoutes(router, app);
  return router;
}
