import fs from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { API } from "../../../protocol/catalog/index.js";
import { fieldError, SlipError } from "../../../protocol/errors.js";
import type { AppContext } from "../../context.js";
import { tgzStream } from "../../reports/archive.js";
import { listReports, REPORT_NAME_RE } from "../../reports/store.js";
import { type Router, SENT } from "../router.js";

/** Reports: listed and downloaded by people, uploaded by agents (each to its own instance's name). */
export function registerReportRoutes(router: Router, app: AppContext): void {
  const { runs } = app;
  router
    .route(API.runReports, ({ params }) => ({ reports: listReports(app.db, runs.get(params.id).id) }))
    .route(API.downloadReportsArchive, async ({ res, params }) => {
      const rt = runs.get(params.id);
      const names = (
        app.db.$client.prepare("select name from reports where run_id = ? order by created_at, name").all(rt.id) as {
          name: string;
        }[]
      ).map((r) => r.name);
      // checked before the headers: a report gone from disk is left out, not an archive cut off after a 200
      const present: string[] = [];
      for (const name of names) {
        const st = await fs.stat(app.reports.file(rt.id, name)).catch(() => null);
        if (st?.isFile()) present.push(name);
      }
      if (present.length === 0) throw new SlipError("NOT_FOUND", `run ${rt.id} has no reports (yet)`);
      res.writeHead(200, {
        "content-type": "application/gzip",
        "content-disposition": `attachment; filename="${rt.id}_reports.tgz"`,
      });
      // each report file streamed from disk into the gzip, one after the other: nothing held whole in memory
      const files = present.map((name) => ({ name, path: app.reports.file(rt.id, name) }));
      pipeline(tgzStream(rt.id, files), res).catch(() => {});
      return SENT;
    })
    .route(API.downloadReport, async ({ res, params }) => {
      const rt = runs.get(params.id);
      const row = app.db.$client
        .prepare("select size from reports where run_id = ? and name = ?")
        .get(rt.id, params.name) as { size: number } | undefined;
      if (!row) throw new SlipError("NOT_FOUND", `report '${params.name}' not found`);
      // opened before the headers: a file gone from disk is a 404, not a crash after a 200
      const stream = await app.reports.open(rt.id, params.name);
      if (!stream) throw new SlipError("NOT_FOUND", `report '${params.name}' is no longer on disk`);
      res.writeHead(200, {
        "content-type": "application/gzip",
        "content-length": row.size,
        "content-disposition": `attachment; filename="${params.name}"`,
      });
      // pipeline, not pipe: a client that hangs up mid-download closes the file too (a read error ends the response)
      pipeline(stream, res).catch(() => {});
      return SENT;
    })
    .route(API.uploadReport, async ({ req, agent, query }) => {
      const { name } = query;
      if (!REPORT_NAME_RE.test(name) || !name.startsWith(`${agent.instance}_report_`)) {
        throw fieldError("name", `must be ${agent.instance}_report_<timestamp>.tgz`);
      }
      const limits = app.settings.limits;
      const declared = Number(req.headers["content-length"] ?? 0);
      if (declared > limits.reportBytes) {
        throw new SlipError(
          "PAYLOAD_TOO_LARGE",
          `body: the report is ${declared} bytes, over the limit of ${limits.reportBytes} ('reportBytes')`,
        );
      }
      const sent = app.db.$client
        .prepare("select count(*) as n, sum(name = ?) as same from reports where run_id = ? and instance = ?")
        .get(name, agent.rt.id, agent.instance) as { n: number; same: number | null };
      if (!sent.same && sent.n >= limits.reportsPerInstance) {
        throw fieldError(
          "name",
          `${agent.instance} has sent ${sent.n} reports, its limit ('reportsPerInstance'); an admin can raise it`,
          "LIMIT_EXCEEDED",
        );
      }
      const size = await app.reports.write(agent.rt.id, name, req, limits.reportBytes).catch((err: unknown) => {
        runs.storageFailed(agent.rt, err);
        throw err;
      });
      runs.addReport(agent.rt, `node:${agent.instance}`, name, agent.instance, size);
      if (!agent.rt.snapshot.context.instances.get(agent.instance)?.live) {
        app.effects.stop(agent.rt, agent.instance).catch((err) => app.log.error({ err }, "stopping removed instance"));
      }
      return { name, size };
    });
}
