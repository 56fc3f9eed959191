import path from "node:path";
import { z } from "zod";
import { describeZodError } from "../protocol/errors.js";
import { InstanceName } from "../protocol/run.js";
import { SANDBOX_ENV, SandboxSpec } from "../protocol/sandbox.js";
import { CertSha256 } from "./tls-pin.js";

/** The launch contract: what a connector puts in the agent's environment. */
const LaunchEnv = z.object({
  SLIPSTREAM_SERVICEURL: z.url(),
  /** the server's TLS certificate: the only one the agent accepts (set by connectors when the server serves TLS) */
  SLIPSTREAM_SERVER_CERT_SHA256: CertSha256.optional(),
  SLIPSTREAM_AGENT_TOKEN: z.string().min(10),
  SLIPSTREAM_DIID: z.string().min(1),
  SLIPSTREAM_NODE_INSTANCE_NAME: InstanceName,
  SLIPSTREAM_CLOUD: z.string().min(1),
  SLIPSTREAM_WORKSPACE: z.string().refine((p) => path.isAbsolute(p), "must be an absolute path"),
  SLIPSTREAM_KILL_GRACE: z.coerce.number().min(0).max(3600).default(10),
  /** a built ss.mjs, when the agent does not run from its bundle (tests run it from source) */
  SLIPSTREAM_SS_CLIENT: z.string().optional(),
  /** seconds an ss-* command waits for a lost server connection to come back before failing with exit 4 */
  SLIPSTREAM_SERVER_WAIT: z.coerce.number().min(1).default(600),
  /** set by the local cloud: recipes run in a machine of their own (machine.ts), described by this JSON */
  [SANDBOX_ENV]: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined) return undefined;
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "must be JSON" });
        return z.NEVER;
      }
    })
    .pipe(SandboxSpec.optional()),
});

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
}

export function readConfig(env: NodeJS.ProcessEnv): AgentConfig {
  const parsed = LaunchEnv.safeParse(env);
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
  };
}
