import type { AgentLaunchVars } from "../../protocol/launch-env.js";
import { SANDBOX_ENV, type SandboxSpec } from "../../protocol/sandbox.js";
import type { InstanceLaunch } from "./types.js";

interface AgentEnvOptions {
  /** the agent's workspace, as the agent sees it */
  workspace: string;
  /** where the agent reaches the server when not at `launch.serviceUrl` (the local cloud's bridge, NAT) */
  serviceUrl?: string;
  /** seconds between SIGTERM and SIGKILL for the agent's recipes (absent: the agent's default) */
  killGraceSeconds?: number;
  /** the ss client the agent gives its recipes, when not the ss.mjs beside agent.mjs */
  ssClient?: string;
  /** the local cloud's sandbox: recipes run in a machine of their own */
  sandbox?: SandboxSpec;
}

/**
 * The launch contract's variables for one instance (protocol/launch-env.ts): every connector builds the agent's
 * environment here and adds only what is its own (a tag to find the instance's processes, PATH, HOME).
 */
export function agentEnv(launch: InstanceLaunch, o: AgentEnvOptions): AgentLaunchVars {
  const serviceUrl = o.serviceUrl ?? launch.serviceUrl;
  const env: AgentLaunchVars = {
    SLIPSTREAM_SERVICEURL: serviceUrl,
    SLIPSTREAM_AGENT_TOKEN: launch.token,
    SLIPSTREAM_DIID: launch.runId,
    SLIPSTREAM_NODE_INSTANCE_NAME: launch.instance,
    SLIPSTREAM_CLOUD: launch.cloud,
    SLIPSTREAM_WORKSPACE: o.workspace,
  };
  // the pin only beside https: a plain-http URL (an ssh cloud's agentServiceUrl through a proxy) reaches something
  // else than this server's TLS port, and the agent refuses a pin beside it
  if (launch.serverCertSha256 && serviceUrl.startsWith("https:")) {
    env.SLIPSTREAM_SERVER_CERT_SHA256 = launch.serverCertSha256;
  }
  if (o.killGraceSeconds !== undefined) env.SLIPSTREAM_KILL_GRACE = String(o.killGraceSeconds);
  if (o.ssClient !== undefined) env.SLIPSTREAM_SS_CLIENT = o.ssClient;
  if (o.sandbox !== undefined) env[SANDBOX_ENV] = JSON.stringify(o.sandbox);
  return env;
}
