import { API } from "../../../protocol/catalog/index.js";
import type { AppContext } from "../../context.js";
import { streamSnapshot } from "../../reports/snapshot.js";
import { TestResults } from "../../reports/test-results.js";
import { type Router, SENT } from "../router.js";

/** A run's results as a CI reads them: verdicts per instance, JUnit found in its reports, and JUnit XML of both. */
export function registerResultRoutes(router: Router, app: AppContext): void {
  const results = new TestResults(app);
  router
    .route(API.runTestResults, ({ params }) => results.of(app.runs.get(params.id)))
    .route(API.runSnapshot, ({ res, params, user }) => {
      const rt = app.runs.get(params.id);
      res.writeHead(200, {
        "content-type": "application/json; charset=utf-8",
        "content-disposition": `attachment; filename="${rt.id}_snapshot.json"`,
      });
      streamSnapshot(app, rt, user.username, res).catch((err: Error) => res.destroy(err));
      return SENT;
    })
    .route(API.runJunit, async ({ res, params }) => {
      const rt = app.runs.get(params.id);
      const xml = await results.junit(rt);
      res.writeHead(200, {
        "content-type": "application/xml; charset=utf-8",
        "content-disposition": `inline; filename="${rt.id}_junit.xml"`,
      });
      res.end(xml);
      return SENT;
    });
}
