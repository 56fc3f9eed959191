/**
 * The launch contract between a connector and the agent it starts: the environment the agent reads at start
 * (agent/config.ts parses it with `AgentLaunchEnv`; server/connectors/agent-env.ts builds it).
 */
import path from "node:path";
import { z } from "zod";
import { InstanceName } from "./run";
import { SANDBOX_ENV, SandboxSpec } from "./sandbox";

/** `AB:CD:…`, Node's `fingerprint256` format. */
export function normalizeFingerprint(fp: string): string {
  const hex = fp.replace(/[:\s]/g, "").toUpperCase();
  return hex.match(/../g)?.join(":") ?? hex;
}

/** A SHA-256 certificate fingerprint as hex, with or without colons (`openssl x509 -fingerprint -sha256`, Node). */
const CertSha256 = z
  .string()
  .trim()
  .regex(/^(?:[0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/, "a SHA-256 fingerprint: 32 bytes in hex, colons allowed")
  .transform(normalizeFingerprint);

/** An optional variable holding JSON that must match `schema`. */
function jsonVar<T extends z.ZodType>(schema: T) {
  return z
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
    .pipe(schema.optional());
}

export const AgentLaunchEnv = z.object({
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
  [SANDBOX_ENV]: jsonVar(SandboxSpec),
  /**
   * how the ss-* commands start Node, when it is not this process's own executable (a docker cloud starts the
   * agent through the host's dynamic loader, so that no C library is assumed in the image): a JSON array
   */
  SLIPSTREAM_NODE_COMMAND: jsonVar(z.array(z.string().min(1)).min(1).max(16)),
});
export type AgentLaunchEnv = z.output<typeof AgentLaunchEnv>;

type RequiredVar =
  | "SLIPSTREAM_SERVICEURL"
  | "SLIPSTREAM_AGENT_TOKEN"
  | "SLIPSTREAM_DIID"
  | "SLIPSTREAM_NODE_INSTANCE_NAME"
  | "SLIPSTREAM_CLOUD"
  | "SLIPSTREAM_WORKSPACE";

/** The contract's variables as a connector sets them: strings, the optional ones only when they apply. */
export type AgentLaunchVars = { [K in keyof typeof AgentLaunchEnv.shape]?: string } & Record<RequiredVar, string>;
