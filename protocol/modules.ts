import { z } from "zod";
import { NodeName, ParamName, ParamValue } from "./run";

/** A module path: slash-separated segments, e.g. `examples/tutorials/service-testing/apache`. */
export const ModulePath = z
  .string()
  .min(1)
  .max(400)
  .regex(
    /^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/,
    "must be slash-separated names of letters, digits, _ . -",
  );

export const SCRIPT_TARGETS = [
  "pre-install",
  "post-install",
  "execute",
  "report",
  "onvmadd",
  "onvmremove",
  "prescale",
] as const;

const Script = z.string().max(1_000_000);

export const ImageParameter = z.strictObject({
  name: ParamName,
  category: z.enum(["input", "output"]),
  default: ParamValue.optional(),
  description: z.string().max(1000).optional(),
});
export type ImageParameter = z.infer<typeof ImageParameter>;

export const ImageTargets = z.strictObject({
  "pre-install": Script.optional(),
  packages: z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.+:~_-]*$/, "must be a package name")).optional(),
  "post-install": Script.optional(),
  execute: Script.optional(),
  report: Script.optional(),
  onvmadd: Script.optional(),
  onvmremove: Script.optional(),
  /** runs on an instance being removed by a scale, before its report (SlipStream's Pre-Scale) */
  prescale: Script.optional(),
});
export type ImageTargets = z.infer<typeof ImageTargets>;

/**
 * An image's per-cloud image identifiers (SlipStream's cloud image ids): by cloud name or by cloud kind, e.g.
 * `{ docker: "debian:12" }` — the container image a docker cloud starts the node's instances from.
 */
export const CloudImages = z.record(
  z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, "a cloud name or kind"),
  z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$/, "an image reference like debian:12"),
);
export type CloudImages = z.infer<typeof CloudImages>;

export const ImageModule = z.strictObject({
  kind: z.literal("image"),
  description: z.string().max(10_000).optional(),
  images: CloudImages.optional(),
  parameters: z.array(ImageParameter).default([]),
  targets: ImageTargets.default({}),
});
export type ImageModule = z.infer<typeof ImageModule>;

/** A mapping value: `node:output` (another node's output) or a quoted literal `'value'`. */
const MappingValue = z.string().min(1).max(4100);

export const DeploymentNode = z.strictObject({
  image: z.string().min(1).max(400),
  multiplicity: z.number().int().min(0, "must be 0 or more").max(1000).default(1),
  cloud: z.string().min(1).max(100).optional(),
  mappings: z.record(ParamName, MappingValue).default({}),
});
export type DeploymentNode = z.infer<typeof DeploymentNode>;

/**
 * Names SlipStream keeps for itself: `ss` owns the run's global keys, `orchestrator` its report, and `machine` is
 * the node of a single image's run. A deployment node so named would mix its keys and reports with theirs.
 */
const RESERVED_NODE_NAMES = ["ss", "orchestrator", "machine"];
export const DeploymentModule = z.strictObject({
  kind: z.literal("deployment"),
  description: z.string().max(10_000).optional(),
  nodes: z.record(NodeName, DeploymentNode).superRefine((nodes, ctx) => {
    for (const name of Object.keys(nodes)) {
      if (RESERVED_NODE_NAMES.includes(name.toLowerCase())) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `'${name}' is a name SlipStream keeps for itself (${RESERVED_NODE_NAMES.join(", ")})`,
        });
      }
    }
  }),
});
export type DeploymentModule = z.infer<typeof DeploymentModule>;

const ProjectModule = z.strictObject({
  kind: z.literal("project"),
  description: z.string().max(10_000).optional(),
});

export const ModuleDoc = z.discriminatedUnion("kind", [ImageModule, DeploymentModule, ProjectModule]);
export type ModuleDoc = z.infer<typeof ModuleDoc>;

export const ModuleRecord = z.object({
  path: ModulePath,
  kind: z.enum(["image", "deployment", "project"]),
  owner: z.string(),
  version: z.number().int(),
  updatedAt: z.string(),
  doc: ModuleDoc,
});
export type ModuleRecord = z.infer<typeof ModuleRecord>;
