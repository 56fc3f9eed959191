import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { API } from "../../../protocol/catalog/index.js";
import { SlipError } from "../../../protocol/errors.js";
import { openApiDocument } from "../openapi.js";
import { type Router, SENT } from "../router.js";

/** The files of Swagger UI the reference page loads, with their types: nothing else of the package is served. */
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
};

// our own start-up script, a file like the others: the page's CSP needs no inline script
const INIT = `window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
    withCredentials: true,
  });
});
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>SlipStream API</title>
  <link rel="stylesheet" href="/api/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/api/docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api/docs/swagger-ui-bundle.js"></script>
  <script src="/api/docs/swagger-ui-standalone-preset.js"></script>
  <script src="/api/docs/init.js"></script>
</body>
</html>
`;

/** /api/openapi.json (generated once, from the catalog) and the reference page over it. */
export function registerDocsRoutes(router: Router): void {
  let document: Record<string, unknown> | null = null;
  const dir = path.dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  router
    .route(API.openapi, () => {
      document ??= openApiDocument();
      return document;
    })
    .route(API.docs, ({ res }) => {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": Buffer.byteLength(PAGE) });
      res.end(PAGE);
      return SENT;
    })
    .route(API.docsAsset, ({ res, params }) => {
      if (params.file === "init.js") {
        res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" });
        res.end(INIT);
        return SENT;
      }
      const type = Object.hasOwn(ASSETS, params.file) ? ASSETS[params.file] : undefined;
      if (!type) throw new SlipError("NOT_FOUND", `no file '${params.file}' in the API reference`);
      res.writeHead(200, { "content-type": type, "cache-control": "public, max-age=86400" });
      pipeline(fs.createReadStream(path.join(dir, params.file)), res).catch(() => {});
      return SENT;
    });
}
