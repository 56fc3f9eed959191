import { API } from "../../../protocol/catalog/index.js";
import { SlipError } from "../../../protocol/errors.js";
import { CloudService } from "../../clouds/service.js";
import { testConnection } from "../../clouds/test-connection.js";
import { cloudUsage } from "../../clouds/usage.js";
import type { AppContext } from "../../context.js";
import type { Router } from "../router.js";

/** SSH clouds: every user reads them; admins change them and decide who may use each (local included). */
export function registerCloudRoutes(router: Router, app: AppContext, clouds = new CloudService(app)): void {
  router
    .route(API.listClouds, () => ({ clouds: clouds.list() }))
    .route(API.createCloud, ({ user, body }) => clouds.create(user, body))
    .route(API.updateCloud, ({ user, params, body }) => clouds.update(user, params.name, body))
    .route(API.deleteCloud, ({ user, params }) => {
      clouds.delete(user, params.name);
      app.access.forget(params.name);
      return { ok: true as const };
    })
    .route(API.testCloudHost, ({ body }) => testConnection(app, body))
    .route(API.cloudUsage, ({ params }) => cloudUsage(app.db.$client, clouds.get(params.name)))
    .route(API.cloudAccess, ({ params }) => {
      if (!app.connectors.has(params.name)) throw new SlipError("NOT_FOUND", `no cloud '${params.name}'`);
      return app.access.get(params.name);
    })
    .route(API.setCloudAccess, ({ user, params, body }) => app.access.set(user, params.name, body));
}
