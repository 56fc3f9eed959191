import { z } from "zod";
import { InstanceDebugInfo } from "../debug-info";
import { endpoint } from "../endpoint";
import { InstanceName } from "../run";

export const debugInfoRoutes = {
  instanceDebugInfo: endpoint({
    method: "GET",
    path: "/api/runs/:id/instances/:instance/debug",
    tag: "runs",
    auth: "user",
    summary:
      "How to get into one instance's machine and re-run its recipe: the command that enters it (local sandbox, " +
      "ssh, docker exec), its setenv and targets/execute lines and the abort reset; only the run's owner or an admin",
    params: z.object({ id: z.string().min(1).max(100), instance: InstanceName }),
    response: InstanceDebugInfo,
    errors: ["NOT_FOUND", "FORBIDDEN"],
  }),
};
