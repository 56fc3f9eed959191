import { API } from "../../../protocol/catalog/index.js";
import type { AppContext } from "../../context.js";
import { type Router, SENT } from "../router.js";

export function registerModuleRoutes(router: Router, app: AppContext): void {
  const { modules } = app;
  router
    .route(API.listModules, ({ query }) => ({ modules: modules.list(query.prefix) }))
    .route(API.importModules, ({ user, body }) => ({
      modules: modules.importYaml(user, body.files).map((m) => ({ path: m.path, kind: m.kind, version: m.version })),
    }))
    .route(API.getModule, ({ req, res, params, query }) => {
      const mod = modules.get(params.path);
      if (query.format === "yaml" || (query.format === undefined && req.headers.accept?.includes("application/yaml"))) {
        res.writeHead(200, { "content-type": "application/yaml; charset=utf-8" });
        res.end(modules.yaml(mod.path));
        return SENT;
      }
      return mod;
    })
    .route(API.putModule, ({ user, params, body }) => modules.save(user, params.path, body.doc))
    .route(API.deleteModule, ({ user, params }) => {
      modules.delete(user, params.path);
      return { ok: true as const };
    });
}
