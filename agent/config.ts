import path from "node:path";
import { describeZodError } from "../protocol/errors.js";
import { AgentLaunchEnv } from "../protocol/launch-env.js";
import { SANDBOX_ENV, type SandboxSpec } from "../protocol/sandbox.js";
import type { SharedFiles } from "./shared-files.js";

export interface AgentConfig {
  serviceUrl: string;
  /** the pinned fingerprint of the server's certificate (`AB:CD:…`), when the server serves TLS */
  serverCertSha256?: string;
  token: string;
  runId: string;
  instance: string;
  node: string;
  index: number;
  cloud: string;
  workspace: string;
  killGraceMs: number;
  ssClient: string | undefined;
  serverWaitMs: number;
  sandbox: SandboxSpec | undefined;
  /** the command that starts Node for the ss-* commands (default: this process's executable) */
  nodeCommand: string[];
  /** the environment the instance's recipes start from (the agent's own, or what the host was given for it) */
  env: NodeJS.ProcessEnv;
  /** served by a host process (agent/host.ts): where the host finds the workspace, `workspace` being the recipes' view */
  hostWorkspace?: string;
  /** the server's URL as the recipes reach it, when not `serviceUrl` (the host is outside the instance's network) */
  machineServiceUrl?: string;
  /** the host uid the recipes run as, when the agent is another (a host process as root): what they write to is theirs */
  owner?: number;
  /** where the files every workspace of a host holds the same are stored once, to be linked (agent/shared-files.ts) */
  sharedFiles?: SharedFiles;
}

export function readConfig(env: NodeJS.ProcessEnv): AgentConfig {
  const parsed = AgentLaunchEnv.safeParse(env);
  if (!parsed.success) throw new Error(`bad agent environment: ${describeZodError(parsed.error)}`);
  const e = parsed.data;
  if (e.SLIPSTREAM_SERVER_CERT_SHA256 !== undefined && !e.SLIPSTREAM_SERVICEURL.startsWith("https:")) {
    // a pin beside a plain-http URL would send the token in clear while looking protected
    throw new Error(
      "bad agent environment: SLIPSTREAM_SERVER_CERT_SHA256: is set, but SLIPSTREAM_SERVICEURL is not https",
    );
  }
  const dot = e.SLIPSTREAM_NODE_INSTANCE_NAME.lastIndexOf(".");
  return {
    serviceUrl: e.SLIPSTREAM_SERVICEURL.replace(/\/+$/, ""),
    serverCertSha256: e.SLIPSTREAM_SERVER_CERT_SHA256,
    token: e.SLIPSTREAM_AGENT_TOKEN,
    runId: e.SLIPSTREAM_DIID,
    instance: e.SLIPSTREAM_NODE_INSTANCE_NAME,
    node: e.SLIPSTREAM_NODE_INSTANCE_NAME.slice(0, dot),
    index: Number(e.SLIPSTREAM_NODE_INSTANCE_NAME.slice(dot + 1)),
    cloud: e.SLIPSTREAM_CLOUD,
    workspace: path.resolve(e.SLIPSTREAM_WORKSPACE),
    killGraceMs: e.SLIPSTREAM_KILL_GRACE * 1000,
    ssClient: e.SLIPSTREAM_SS_CLIENT,
    serverWaitMs: e.SLIPSTREAM_SERVER_WAIT * 1000,
    sandbox: e[SANDBOX_ENV],
    nodeCommand: e.SLIPSTREAM_NODE_COMMAND ?? [process.execPath],
    env,
  };
}
