import { API } from "../../../protocol/catalog/index.js";
import { SlipError } from "../../../protocol/errors.js";
import type { AppContext } from "../../context.js";
import { instanceDebugInfo } from "../../runs/debug-info.js";
import type { Router } from "../router.js";

/** An instance's way in: only those who may steer the run (its owner or an admin) see commands into its machines. */
export function registerDebugInfoRoutes(router: Router, app: AppContext): void {
  router.route(API.instanceDebugInfo, ({ user, params }) => {
    const rt = app.runs.get(params.id);
    if (user.role !== "admin" && rt.ownerId !== user.id) {
      throw new SlipError("FORBIDDEN", `only ${rt.owner} (the run's owner) or an admin may debug run ${rt.id}`);
    }
    const inst = rt.instances.get(params.instance);
    if (!inst) throw new SlipError("NOT_FOUND", `run ${rt.id} has no instance ${params.instance}`);
    return instanceDebugInfo({
      runId: rt.id,
      instance: inst.name,
      cloud: inst.cloud,
      connectorKind: app.connectors.get(inst.cloud)?.kind ?? null,
      workspace: inst.workspace,
      login: inst.login,
      urlSsh: rt.params.get(`${inst.name}:url.ssh`)?.value ?? null,
    });
  });
}
