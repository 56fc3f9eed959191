import { z } from "zod";
import { KeptHours } from "./kept";
import { ModuleDoc, ModulePath } from "./modules";
import { KeepRunning, NodeName, ParamValue, RunState } from "./run";
import { StuckRunAbortSeconds } from "./wait-graph";

/** REST request bodies and queries; responses reuse the schemas of run.ts / modules.ts. */

export const LoginBody = z.strictObject({
  username: z.string().min(1).max(100),
  password: z.string().min(1).max(1000),
});
export const LoginResponse = z.object({
  token: z.string(),
  /** tokens made by signing in expire (90 days) */
  expiresAt: z.string().nullable().optional(),
  user: z.object({ username: z.string(), role: z.string() }),
});

export const Username = z
  .string()
  .min(2)
  .max(40)
  .regex(/^[a-z][a-z0-9_.-]*$/, "must start with a lowercase letter and hold only a-z, 0-9, _ . -");
export const CreateUserBody = z.strictObject({
  username: Username,
  displayName: z.string().min(1).max(100),
  role: z.enum(["admin", "member"]).default("member"),
  password: z.string().min(8, "must be at least 8 characters").max(200),
});

const Password = z.string().min(8, "must be at least 8 characters").max(200);
const DisplayName = z.string().trim().min(1).max(100);

/**
 * Admin: change a user's display name or role, reset their password (which revokes all their sessions and tokens),
 * or disable / enable them.
 */
export const UpdateUserBody = z
  .strictObject({
    displayName: DisplayName.optional(),
    role: z.enum(["admin", "member"]).optional(),
    password: Password.optional(),
    disabled: z.boolean().optional(),
  })
  .refine(
    (b) => b.displayName !== undefined || b.role !== undefined || b.password !== undefined || b.disabled !== undefined,
    { message: "give at least one of displayName, role, password, disabled" },
  );
/**
 * A user changing their own password proves they know the current one. Their other sessions are signed out;
 * `revokeTokens` also revokes their API tokens (but the one making the request).
 */
export const ChangePasswordBody = z.strictObject({
  currentPassword: z.string().min(1).max(1000),
  newPassword: Password,
  revokeTokens: z.boolean().default(false),
});
/** `expiresInDays`: 1 to 3650, 90 when not given, null for a token that never expires. */
export const CreateTokenBody = z.strictObject({
  name: z.string().trim().min(1).max(100),
  expiresInDays: z.number().int().min(1).max(3650).nullable().default(90),
});

const SSH_KEY_TYPES = new Set([
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
]);

/** Why an OpenSSH public key line is not valid, or null when it is: `type base64 [comment]`, type embedded in the blob. */
export function sshKeyProblem(line: string): string | null {
  const parts = line.trim().split(/\s+/);
  if (parts.length < 2) return "must be '<type> <base64> [comment]'";
  const [type, body] = parts;
  if (!SSH_KEY_TYPES.has(type)) return `unknown key type '${type.slice(0, 40)}'`;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) return "key body is not base64";
  let bytes: Uint8Array;
  try {
    const bin = atob(body);
    bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return "key body is not base64";
  }
  if (bytes.length < 4) return "key body is too short";
  const len = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  if (len > bytes.length - 4) return "key body is truncated";
  const embedded = String.fromCharCode(...bytes.slice(4, 4 + len));
  if (embedded !== type) return `key body is a '${embedded.slice(0, 40)}' key, not '${type}'`;
  if (bytes.length <= 4 + len) return "key body holds no key";
  return null;
}

export const SshPublicKey = z
  .string()
  .max(16_384)
  .transform((s) => s.trim().replace(/\s+/g, " "))
  .superRefine((s, ctx) => {
    const problem = sshKeyProblem(s);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/** Grace for an unresponsive agent: at least 1 s (tests), at most a day. */
export const LostAfterSeconds = z
  .number()
  .int()
  .min(1)
  .max(24 * 3600);

/** Keys are the same key whatever their comments: type and body. */
const sshKeyId = (line: string) => line.split(" ").slice(0, 2).join(" ");
export const SshPublicKeys = z
  .array(SshPublicKey)
  .max(50)
  .superRefine((keys, ctx) => {
    keys.forEach((k, i) => {
      const first = keys.findIndex((o) => sshKeyId(o) === sshKeyId(k));
      if (first < i) ctx.addIssue({ code: "custom", path: [i], message: `the same key as key ${first + 1}` });
    });
  });

/** The user's profile ("General"): copied into each run when it is created; the cloud is checked by the server. */
export const PutProfileBody = z.strictObject({
  sshKeys: SshPublicKeys,
  /** the name others see on runs and modules; unchanged when absent */
  displayName: DisplayName.optional(),
  keepRunning: KeepRunning,
  defaultCloud: z.string().min(1).max(100),
  runTimeoutMinutes: z
    .number()
    .int()
    .min(1)
    .max(60 * 24 * 30),
  lostAfterSeconds: LostAfterSeconds.optional(),
  /** how long a run may stay kept in Ready before it is terminated (hours, fractional allowed) */
  keptRunMaxHours: KeptHours.optional(),
  /** a run stuck in its waits (deadlock, dead producer) is aborted after this many seconds; 0: never */
  stuckRunAbortSeconds: StuckRunAbortSeconds.optional(),
});

export const PutModuleBody = z.strictObject({ doc: ModuleDoc });
/** Import many modules at once, as YAML files keyed by module path (what `slipstream modules push` sends). */
/** YAML bounds: a module is a few KiB; parsing is synchronous, and these keep one import well under a second. */
export const MAX_MODULE_YAML = 128 * 1024;
export const MAX_IMPORT_YAML = 512 * 1024;
export const ImportModulesBody = z.strictObject({
  files: z
    .array(
      z.strictObject({
        path: ModulePath,
        yaml: z.string().max(MAX_MODULE_YAML, `must be at most ${MAX_MODULE_YAML / 1024} KiB of YAML`),
      }),
    )
    .min(1)
    .max(1000)
    .refine(
      (files) => files.reduce((n, f) => n + f.yaml.length, 0) <= MAX_IMPORT_YAML,
      `must hold at most ${MAX_IMPORT_YAML / 1024} KiB of YAML in all; push a large tree in parts (--prefix)`,
    ),
});

/** `node:name` key of a Run-dialog parameter override. */
export const OverrideKey = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*:[A-Za-z_][\w.-]*$/, "must be node:name");

export const CreateRunBody = z.strictObject({
  module: ModulePath,
  multiplicity: z.record(NodeName, z.number().int().min(0).max(1000)).default({}),
  clouds: z.record(NodeName, z.string().min(1).max(100)).default({}),
  params: z.record(OverrideKey, ParamValue).default({}),
  keepRunning: KeepRunning.optional(),
  scalable: z.boolean().default(false),
  tags: z
    .array(
      z
        .string()
        .min(1)
        .max(64)
        .regex(/^[^,\s]+$/, "must not contain commas or spaces"),
    )
    .max(50)
    .default([]),
  /** Run timeout in minutes; the profile's when absent. */
  timeoutMinutes: z
    .number()
    .int()
    .min(1)
    .max(60 * 24 * 30)
    .optional(),
  /** How long an agent may stay unresponsive before its instance is lost (run-rules R19); the profile's when absent. */
  lostAfterSeconds: LostAfterSeconds.optional(),
  /** How long the run may stay kept in Ready before it is terminated (hours); the profile's when absent. */
  keptMaxHours: KeptHours.optional(),
});
export type CreateRunBody = z.infer<typeof CreateRunBody>;

/** A time in a query: any ISO 8601 date-time (with its zone), compared as the UTC time it names. */
const QueryTime = z.iso
  .datetime({ offset: true })
  .transform((t) => new Date(t).toISOString())
  .refine((t) => !t.startsWith("+") && !t.startsWith("-"), "a time between the years 0000 and 9999");

/** Where a page of runs ends: `<createdAt>~<id>` of its last row (the `next` of the answer). */
export const RunsCursor = z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z~[A-Za-z0-9-]{1,100}$/, {
  message: "a cursor as the answer's `next` gives it: <createdAt>~<id>",
});

export const RunsQuery = z.strictObject({
  state: z.union([RunState, z.literal("active")]).optional(),
  mine: z.enum(["true", "false"]).optional(),
  /** the owner's username (anyone's, not only mine) */
  owner: z.string().min(1).max(100).optional(),
  module: z.string().max(400).optional(),
  /** runs whose id starts with this (the run page shows the first 8 characters): how the CLI finds a short id */
  idPrefix: z
    .string()
    .regex(/^[0-9a-fA-F][0-9a-fA-F-]{0,35}$/, "must be the start of a run id (hex digits and dashes)")
    .optional(),
  tag: z.string().max(64).optional(),
  /** runs created at or after this time */
  createdAfter: QueryTime.optional(),
  /** runs created before this time */
  createdBefore: QueryTime.optional(),
  /** the page after this cursor (the previous answer's `next`): older runs */
  before: RunsCursor.optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});
export type RunsQuery = z.infer<typeof RunsQuery>;

export const AbortBody = z.strictObject({ message: z.string().min(1).max(4096).default("Aborted by user") });
export const SetParamBody = z.strictObject({ value: ParamValue });
export const ScaleBody = z
  .strictObject({
    node: NodeName,
    add: z.number().int().min(1).max(1000).optional(),
    remove: z.array(z.number().int().min(1)).min(1).max(1000).optional(),
  })
  .refine((b) => (b.add === undefined) !== (b.remove === undefined), {
    message: "give exactly one of add or remove",
    path: ["add"],
  });

export const EventsQuery = z.strictObject({
  since: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  type: z.string().max(40).optional(),
});
