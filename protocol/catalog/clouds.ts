import { z } from "zod";
import { endpoint } from "../endpoint";
import { Ok, Role } from "./common";

const IPV4 = z.ipv4();
const IPV6 = z.ipv6();
const isIpAddress = (a: string) => IPV4.safeParse(a).success || IPV6.safeParse(a).success;

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export const CloudName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, "lowercase letters, digits and '-', starting with a letter")
  .refine((n) => n !== "local", "'local' is the embedded cloud");

const PEM_CERT = /^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\s*$/;
const PEM_KEY = /^-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+-----END [A-Z ]*PRIVATE KEY-----\s*$/;

const HostFields = z.object({
  address: z.string().refine((a) => isIpAddress(a) || HOSTNAME.test(a), "an IP address or a host name"),
  port: z.number().int().min(1).max(65535).default(22),
  username: z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}$/i, "a login name"),
  privateKey: z
    .string()
    .regex(
      /^-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+-----END [A-Z ]*PRIVATE KEY-----\s*$/,
      "a PEM/OpenSSH private key",
    )
    .optional(),
  // At least 8 characters: a secret is redacted from logs, events and reports by matching its text, and only a
  // long one can be (redacting "p" or "admin" would mangle ordinary words), so a short password is refused here
  // rather than stored and then leaked unredacted. Secrets.remember redacts everything of this length or longer.
  password: z.string().min(8, "at least 8 characters").max(1024).optional(),
  maxInstances: z.number().int().min(1).max(1000).default(1),
  /**
   * The host's key as `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` prints it: the only key accepted. Absent:
   * the key of the first successful connect is pinned (trust on first use) and shown in GET /api/clouds, and on
   * an update a key pinned before is kept; null forgets it.
   */
  hostKeySha256: z
    .string()
    .regex(/^SHA256:[A-Za-z0-9+/]{43}$/, "an OpenSSH SHA-256 fingerprint, SHA256:<43 base64 characters>")
    .nullable()
    .optional(),
});
export const HostBody = HostFields.refine((h) => (h.privateKey === undefined) !== (h.password === undefined), {
  message: "exactly one of privateKey and password",
});
export type HostBody = z.infer<typeof HostBody>;
/** On an update a host may give no credential: the one stored for the same address, port and login is kept. */
const UpdateHostBody = HostFields.refine((h) => h.privateKey === undefined || h.password === undefined, {
  message: "at most one of privateKey and password (neither keeps the stored one)",
});
export type UpdateHostBody = z.infer<typeof UpdateHostBody>;

/**
 * A Docker Engine API endpoint (Podman's compatible socket works too): a unix socket on the server's machine, or
 * TCP with TLS client certificates (PEM).
 */
const DockerEngineFields = z.strictObject({
  socketPath: z
    .string()
    .regex(/^\/[^\0\n]{0,200}$/, "an absolute path")
    .optional(),
  host: z
    .string()
    .refine((a) => isIpAddress(a) || HOSTNAME.test(a), "an IP address or a host name")
    .optional(),
  port: z.number().int().min(1).max(65535).default(2376),
  ca: z.string().regex(PEM_CERT, "a PEM certificate").optional(),
  cert: z.string().regex(PEM_CERT, "a PEM certificate").optional(),
  clientKey: z.string().regex(PEM_KEY, "a PEM private key").optional(),
});
/** `keyKept`: on an update a TCP engine may leave out its clientKey, the stored one is kept (it is never shown). */
const engineNeeds = (keyKept: boolean) => (e: z.infer<typeof DockerEngineFields>, ctx: z.RefinementCtx) => {
  if ((e.socketPath === undefined) === (e.host === undefined)) {
    ctx.addIssue({ code: "custom", path: ["socketPath"], message: "exactly one of socketPath and host" });
  }
  if (e.host === undefined) return;
  for (const f of keyKept ? (["ca", "cert"] as const) : (["ca", "cert", "clientKey"] as const)) {
    if (e[f] === undefined) ctx.addIssue({ code: "custom", path: [f], message: "required with host (TLS)" });
  }
};
export const DockerEngineBody = DockerEngineFields.superRefine(engineNeeds(false));
export type DockerEngineBody = z.infer<typeof DockerEngineBody>;
const UpdateDockerEngineBody = DockerEngineFields.superRefine(engineNeeds(true));

const CloudKind = z.enum(["ssh", "docker"]);

/** What each kind needs: an SSH cloud its hosts, a docker cloud its engine (and no hosts). */
function kindFields(c: { kind: z.infer<typeof CloudKind>; hosts: unknown[]; docker?: unknown }, ctx: z.RefinementCtx) {
  if (c.kind === "ssh" && c.hosts.length === 0) {
    ctx.addIssue({ code: "custom", path: ["hosts"], message: "an SSH cloud needs at least one host" });
  }
  if (c.kind === "ssh" && c.docker !== undefined) {
    ctx.addIssue({ code: "custom", path: ["docker"], message: "only for kind docker" });
  }
  if (c.kind === "docker" && c.docker === undefined) {
    ctx.addIssue({ code: "custom", path: ["docker"], message: "a docker cloud needs its engine" });
  }
  if (c.kind === "docker" && c.hosts.length > 0) {
    ctx.addIssue({ code: "custom", path: ["hosts"], message: "only for kind ssh" });
  }
}

const CloudFields = z.object({
  name: CloudName,
  kind: CloudKind.default("ssh"),
  hosts: z.array(HostBody).max(200).default([]),
  /** kind docker: the engine that runs the cloud's containers */
  docker: DockerEngineBody.optional(),
  /** the server's URL as seen from the hosts (or containers), when the server's own URL does not reach them */
  agentServiceUrl: z.url().optional(),
});
/** POST /api/clouds and PUT /api/clouds/:name (the name comes from the path on PUT). */
export const CloudBody = CloudFields.superRefine(kindFields);
export type CloudBody = z.infer<typeof CloudBody>;
export const UpdateCloudBody = CloudFields.omit({ name: true })
  .extend({ hosts: z.array(UpdateHostBody).max(200).default([]), docker: UpdateDockerEngineBody.optional() })
  .superRefine(kindFields);
export type UpdateCloudBody = z.infer<typeof UpdateCloudBody>;

/** PUT /api/clouds/:name/access */
export const CloudAccessBody = z.object({
  roles: z.array(Role).max(2).default([]),
  users: z
    .array(z.string().regex(/^[a-z][a-z0-9_.-]{0,31}$/, "a username"))
    .max(1000)
    .default([]),
  installKeys: z.boolean().default(true),
});
export type CloudAccessBody = z.infer<typeof CloudAccessBody>;

/** A cloud as the API shows it: never a credential, sealed or not. */
export const CloudView = z.object({
  name: z.string(),
  kind: CloudKind,
  /** kind docker: its engine, without the client key (the TLS certificates are public, shown for editing) */
  docker: z
    .object({
      socketPath: z.string().optional(),
      host: z.string().optional(),
      port: z.number().int().optional(),
      ca: z.string().optional(),
      cert: z.string().optional(),
      hasClientKey: z.boolean(),
    })
    .optional(),
  hosts: z.array(
    z.object({
      address: z.string(),
      port: z.number().int(),
      username: z.string(),
      maxInstances: z.number().int(),
      hasPrivateKey: z.boolean(),
      hasPassword: z.boolean(),
      /** the key accepted from the host: the admin's, or the one seen on the first connect; null: not known yet */
      hostKey: z
        .object({ sha256: z.string(), pinnedBy: z.enum(["admin", "first-use"]), seenAt: z.string().nullable() })
        .nullable(),
    }),
  ),
  agentServiceUrl: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type CloudView = z.infer<typeof CloudView>;

export const CloudAccessView = CloudAccessBody.extend({
  cloud: z.string(),
  /** true when no admin set it: the defaults of the cloud's kind */
  default: z.boolean(),
});
export type CloudAccessView = z.infer<typeof CloudAccessView>;

/** POST /api/clouds/test-connection: what a test of one host found; a failed connect is an answer, not an error. */
export const TestConnectionResult = z.object({
  /** reached, logged in, `true` ran, and the host key is the given one (when one was given) */
  ok: z.boolean(),
  /** the key the host presented, as `ssh-keygen -lf` prints it; null: it presented none (never reached) */
  fingerprint: z.string().nullable(),
  /** whether it is the given hostKeySha256; null: none was given (or no key was presented) */
  hostKeyMatches: z.boolean().nullable(),
  /** the login succeeded (never tried when the host presented another key than the given one) */
  authenticated: z.boolean(),
  /** why not ok: unreachable, refused, timed out, authentication failed, another host key… */
  error: z.string().nullable(),
});
export type TestConnectionResult = z.infer<typeof TestConnectionResult>;

/** GET /api/clouds/:name/usage: the instances each host of an SSH cloud runs now. */
export const CloudUsageView = z.object({
  cloud: z.string(),
  hosts: z.array(
    z.object({
      address: z.string(),
      port: z.number().int(),
      maxInstances: z.number().int(),
      /** machines recorded as started and not yet stopped on this host */
      inUse: z.number().int(),
    }),
  ),
});
export type CloudUsageView = z.infer<typeof CloudUsageView>;

const CloudParams = z.object({ name: z.string().min(1).max(100) });

export const cloudRoutes = {
  listClouds: endpoint({
    method: "GET",
    path: "/api/clouds",
    tag: "clouds",
    auth: "user",
    summary: "The SSH clouds (the local cloud is built in)",
    response: z.object({ clouds: z.array(CloudView) }),
  }),
  createCloud: endpoint({
    method: "POST",
    path: "/api/clouds",
    tag: "clouds",
    auth: "admin",
    adminOnly: "change clouds",
    summary: "Add an SSH cloud: a pool of hosts with a login each",
    body: CloudBody,
    status: 201,
    response: CloudView,
    errors: ["CONFLICT"],
  }),
  updateCloud: endpoint({
    method: "PUT",
    path: "/api/clouds/:name",
    tag: "clouds",
    auth: "admin",
    adminOnly: "change clouds",
    summary:
      "Replace a cloud's definition: an SSH cloud's hosts, where a host given without a credential keeps the one stored for its address, port and login (pinned host keys are kept too); a docker cloud's engine, where a TCP engine given without clientKey keeps the stored one",
    params: CloudParams,
    body: UpdateCloudBody,
    response: CloudView,
    errors: ["NOT_FOUND", "CONFLICT"],
  }),
  deleteCloud: endpoint({
    method: "DELETE",
    path: "/api/clouds/:name",
    tag: "clouds",
    auth: "admin",
    adminOnly: "change clouds",
    summary: "Delete an SSH cloud (runs using it go on; new runs are refused)",
    params: CloudParams,
    response: Ok,
    errors: ["NOT_FOUND"],
  }),
  testCloudHost: endpoint({
    method: "POST",
    path: "/api/clouds/test-connection",
    tag: "clouds",
    auth: "admin",
    adminOnly: "test cloud hosts",
    summary:
      "Test one host definition: connect over SSH (at most 10 s), log in, run `true`; answers the host key's fingerprint, whether it is the given hostKeySha256, and why not when it fails. Nothing is stored.",
    body: HostBody,
    response: TestConnectionResult,
  }),
  cloudUsage: endpoint({
    method: "GET",
    path: "/api/clouds/:name/usage",
    tag: "clouds",
    auth: "admin",
    adminOnly: "see how clouds are used",
    summary: "How many instances each host of an SSH cloud runs now, against its maxInstances",
    params: CloudParams,
    response: CloudUsageView,
    errors: ["NOT_FOUND"],
  }),
  cloudAccess: endpoint({
    method: "GET",
    path: "/api/clouds/:name/access",
    tag: "clouds",
    auth: "user",
    summary: "Who may start machines on a cloud (the local cloud included)",
    params: CloudParams,
    response: CloudAccessView,
    errors: ["NOT_FOUND"],
  }),
  setCloudAccess: endpoint({
    method: "PUT",
    path: "/api/clouds/:name/access",
    tag: "clouds",
    auth: "admin",
    adminOnly: "decide who may use a cloud",
    summary: "Decide who may start machines on a cloud: roles, users, and whether their SSH keys are installed",
    params: CloudParams,
    body: CloudAccessBody,
    response: CloudAccessView,
    errors: ["NOT_FOUND"],
  }),
};
