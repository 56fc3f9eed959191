import { z } from "zod";
import { endpoint } from "../endpoint";
import { ModuleDoc, ModulePath, ModuleRecord } from "../modules";

/**
 * Managing modules beyond saving one: moving (renaming) and deleting whole folders, copying, and each module's
 * version history. Paths live under their own prefixes: `/api/modules/*path` takes every path below it.
 */

const PathParams = z.object({ path: ModulePath });
const FromTo = z.strictObject({ from: ModulePath, to: ModulePath });

export const ModuleVersion = z.object({
  version: z.number().int(),
  kind: ModuleRecord.shape.kind,
  /** who saved this version */
  author: z.string(),
  createdAt: z.string(),
});
export type ModuleVersion = z.infer<typeof ModuleVersion>;

export const moduleManageRoutes = {
  moveModule: endpoint({
    method: "POST",
    path: "/api/module-moves",
    tag: "modules",
    auth: "user",
    summary:
      "Move or rename a module, or a folder with everything under it (every module's owner or an admin); history " +
      "follows; refused while a run of one has not ended or a deployment elsewhere uses one of its images",
    body: FromTo,
    response: z.object({ moved: z.array(z.object({ from: z.string(), to: z.string() })) }),
    errors: ["FORBIDDEN", "NOT_FOUND", "CONFLICT"],
  }),
  copyModule: endpoint({
    method: "POST",
    path: "/api/module-copies",
    tag: "modules",
    auth: "user",
    summary: "Copy a module to a new path, owned by the caller (refused when the path exists)",
    body: FromTo,
    response: ModuleRecord,
    errors: ["NOT_FOUND", "CONFLICT"],
  }),
  deleteFolder: endpoint({
    method: "DELETE",
    path: "/api/module-folders/*path",
    tag: "modules",
    auth: "user",
    summary:
      "Delete a folder and every module under it (each one's owner or an admin); refused, naming them, while a " +
      "deployment elsewhere uses one of its images or a run of one has not ended",
    params: PathParams,
    response: z.object({ deleted: z.array(z.string()) }),
    errors: ["FORBIDDEN", "NOT_FOUND", "CONFLICT"],
  }),
  moduleVersions: endpoint({
    method: "GET",
    path: "/api/module-versions/*path",
    tag: "modules",
    auth: "user",
    summary: "A module's saved versions, newest first, with who saved each and when",
    params: PathParams,
    response: z.object({ versions: z.array(ModuleVersion) }),
    errors: ["NOT_FOUND"],
  }),
  moduleVersion: endpoint({
    method: "GET",
    path: "/api/module-version/*path",
    tag: "modules",
    auth: "user",
    summary: "One saved version of a module: its document and its YAML",
    params: PathParams,
    query: z.strictObject({ version: z.coerce.number().int().min(1).max(1_000_000_000) }),
    response: ModuleVersion.extend({ doc: ModuleDoc, yaml: z.string() }),
    errors: ["NOT_FOUND"],
  }),
  restoreModule: endpoint({
    method: "POST",
    path: "/api/module-restores/*path",
    tag: "modules",
    auth: "user",
    summary: "Save an old version of a module as its newest version (its owner or an admin)",
    params: PathParams,
    body: z.strictObject({ version: z.number().int().min(1).max(1_000_000_000) }),
    response: ModuleRecord,
    errors: ["FORBIDDEN", "NOT_FOUND"],
  }),
};
