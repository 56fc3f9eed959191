import { z } from "zod";
import { ModuleDoc, ModulePath } from "./modules.js";
import { KeepRunning, NodeName, ParamValue, RunState } from "./run.js";

/** REST request bodies and queries; responses reuse the schemas of run.ts / modules.ts. */

export const LoginBody = z.strictObject({
  username: z.string().min(1).max(100),
  password: z.string().min(1).max(1000),
});
export const LoginResponse = z.object({
  token: z.string(),
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

export const PutModuleBody = z.strictObject({ doc: ModuleDoc });
/** Import many modules at once, as YAML files keyed by module path (what `slipstream modules push` sends). */
export const ImportModulesBody = z.strictObject({
  files: z
    .array(z.strictObject({ path: ModulePath, yaml: z.string().max(2_000_000) }))
    .min(1)
    .max(1000),
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
});
export type CreateRunBody = z.infer<typeof CreateRunBody>;

export const RunsQuery = z.strictObject({
  state: z.union([RunState, z.literal("active")]).optional(),
  mine: z.enum(["true", "false"]).optional(),
  module: z.string().max(400).optional(),
  tag: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

export const AbortBody = z.strictObject({ message: z.string().min(1).max(4096).default("Aborted by user") });
export const SetParamBody = z.strictObject({ value: ParamValue });
export const ScaleBody = z
  .strictObject({
    node: NodeName,
    add: z.number().int().min(1).max(1000).optional(),
    remove: z.array(z.number().int().min(1)).min(1).optional(),
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
