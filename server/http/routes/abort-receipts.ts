import { API } from "../../../protocol/catalog/index.js";
import type { AppContext } from "../../context.js";
import { listAbortReceipts } from "../../runs/abort-receipts.js";
import type { Router } from "../router.js";

/** Abort receipts: read by people (the CLI's `status`); agents send theirs on the socket. */
export function registerAbortReceiptRoutes(router: Router, app: AppContext): void {
  router.route(API.runAbortReceipts, ({ params }) => listAbortReceipts(app.runs, app.runs.get(params.id)));
}
