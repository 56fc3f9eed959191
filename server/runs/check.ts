import { analyzeRecipes } from "../../core/dry-run.js";
import type { CreateRunBody } from "../../protocol/api.js";
import { SlipError } from "../../protocol/errors.js";
import type { RunCheckFinding, RunCheckResult } from "../../protocol/run-check.js";
import type { AuthedUser } from "../auth/service.js";
import { missingContainerImage } from "../connectors/docker/run-images.js";
import type { AppContext } from "../context.js";
import { resolveSpec } from "./create.js";
import { checkInstanceLimits } from "./quota.js";

/** Refusals a dry run reports as findings; any other error is the server's own and stays an error. */
const REFUSALS = new Set(["BAD_REQUEST", "NOT_FOUND", "FORBIDDEN", "LIMIT_EXCEEDED"]);

/** The node a refusal's field names (`clouds.client`, `nodes.client.mappings.x`, `params.client:x`), if any. */
function nodeOfField(field: string, nodes: Set<string>): string | null {
  const m = /^(?:clouds|multiplicity|nodes)\.([^.]+)|^params\.([^:]+):/.exec(field);
  const node = m?.[1] ?? m?.[2];
  return node !== undefined && nodes.has(node) ? node : null;
}

/**
 * A dry run: what POST /api/runs would refuse (the same resolution of the body, clouds, access and limits, with
 * nothing written and nothing started), then what the recipes say about their keys (core/dry-run.ts).
 */
export function checkRun(app: AppContext, user: AuthedUser, body: CreateRunBody): RunCheckResult {
  const findings: RunCheckFinding[] = [];
  const refused = (err: unknown, nodes: Set<string>) => {
    if (!(err instanceof SlipError) || !REFUSALS.has(err.code)) throw err;
    const fields =
      err.fields && Object.keys(err.fields).length > 0
        ? Object.entries(err.fields).map(([path, message]) => ({ path, message }))
        : // a refusal without fields may still start with the one it is about (`multiplicity.x: …`)
          [{ path: /^([\w.:-]+): /.exec(err.message)?.[1] ?? "", message: err.message }];
    for (const f of fields) {
      const node = nodeOfField(f.path, nodes);
      const key = f.path.startsWith("params.") ? f.path.slice("params.".length) : null;
      findings.push({
        severity: "error",
        node,
        target: null,
        line: null,
        key,
        message: f.path && !f.message.startsWith(f.path) ? `${f.path}: ${f.message}` : f.message,
      });
    }
  };
  const nodeNames = new Set<string>();
  try {
    const doc = app.modules.get(body.module).doc;
    if (doc.kind === "deployment") for (const n of Object.keys(doc.nodes)) nodeNames.add(n);
    else nodeNames.add("machine");
  } catch {
    // resolveSpec says what is wrong with the module
  }
  let spec: ReturnType<typeof resolveSpec> | null = null;
  try {
    spec = resolveSpec(
      app.modules,
      body,
      {
        keepRunning: user.profile.keepRunning,
        cloud: user.profile.defaultCloud,
        timeoutMinutes: user.profile.runTimeoutMinutes,
        lostAfterSeconds: user.profile.lostAfterSeconds,
      },
      new Set(app.connectors.keys()),
      (cloud) => app.cloudRefusal(user, cloud),
      missingContainerImage(app.connectors),
    );
  } catch (err) {
    refused(err, nodeNames);
  }
  if (spec) {
    try {
      const adding = spec.nodes.reduce((n, node) => n + node.multiplicity, 0);
      checkInstanceLimits(app.runs, app.runs.limits(), user, { before: 0, adding }, "multiplicity");
    } catch (err) {
      refused(err, nodeNames);
    }
    findings.push(...analyzeRecipes(spec.nodes, spec.overrides));
  }
  return { ok: !findings.some((f) => f.severity === "error"), findings };
}
