import { API } from "../../../protocol/catalog/index.js";
import type { AppContext } from "../../context.js";
import { ModuleManager } from "../../modules/manage.js";
import type { Router } from "../router.js";

export function registerModuleManageRoutes(router: Router, app: AppContext): void {
  const manage = new ModuleManager(app.db, app.modules);
  router
    .route(API.moveModule, ({ user, body }) => ({ moved: manage.move(user, body.from, body.to) }))
    .route(API.copyModule, ({ user, body }) => manage.copy(user, body.from, body.to))
    .route(API.deleteFolder, ({ user, params }) => ({ deleted: manage.remove(user, params.path) }))
    .route(API.moduleVersions, ({ params }) => ({ versions: manage.versions(params.path) }))
    .route(API.moduleVersion, ({ params, query }) => manage.version(params.path, query.version))
    .route(API.restoreModule, ({ user, params, body }) => manage.restore(user, params.path, body.version));
}
