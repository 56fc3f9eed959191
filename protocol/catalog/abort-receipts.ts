import { z } from "zod";
import { AbortReceiptList } from "../abort-receipt";
import { endpoint } from "../endpoint";

/** Abort receipts (protocol/abort-receipt.ts): what each instance's agent did about each abort. */
export const abortReceiptRoutes = {
  runAbortReceipts: endpoint({
    method: "GET",
    path: "/api/runs/:id/abort-receipts",
    tag: "runs",
    auth: "user",
    summary:
      "For every abort of a run, per instance: when it reached the agent, which scripts got TERM and which needed KILL, their exit codes, whether the report was sent",
    params: z.object({ id: z.string().min(1).max(100) }),
    response: AbortReceiptList,
    errors: ["NOT_FOUND"],
  }),
};
