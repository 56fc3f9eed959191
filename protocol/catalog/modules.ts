import { z } from "zod";
import { ImportModulesBody, PutModuleBody } from "../api";
import { endpoint } from "../endpoint";
import { ModulePath, ModuleRecord } from "../modules";
import { Ok } from "./common";

const PathParams = z.object({ path: ModulePath });

export const moduleRoutes = {
  listModules: endpoint({
    method: "GET",
    path: "/api/modules",
    tag: "modules",
    auth: "user",
    summary: "Every module, or those under a folder",
    query: z.strictObject({ prefix: z.string().max(400).optional() }),
    response: z.object({ modules: z.array(ModuleRecord) }),
  }),
  importModules: endpoint({
    method: "POST",
    path: "/api/modules/import",
    tag: "modules",
    auth: "user",
    summary: "Import many modules at once from YAML files (what `slipstream modules push` sends); all or nothing",
    body: ImportModulesBody,
    response: z.object({
      modules: z.array(z.object({ path: z.string(), kind: ModuleRecord.shape.kind, version: z.number().int() })),
    }),
    errors: ["FORBIDDEN", "LIMIT_EXCEEDED"],
  }),
  getModule: endpoint({
    method: "GET",
    path: "/api/modules/*path",
    tag: "modules",
    auth: "user",
    summary: "A module; with format=yaml (or Accept: application/yaml) its YAML file as text",
    params: PathParams,
    query: z.strictObject({ format: z.enum(["json", "yaml"]).optional() }),
    response: ModuleRecord,
    errors: ["NOT_FOUND"],
  }),
  putModule: endpoint({
    method: "PUT",
    path: "/api/modules/*path",
    tag: "modules",
    auth: "user",
    summary: "Create or replace a module (its owner or an admin); deployments are checked against their images",
    params: PathParams,
    body: PutModuleBody,
    response: ModuleRecord,
    errors: ["FORBIDDEN"],
  }),
  deleteModule: endpoint({
    method: "DELETE",
    path: "/api/modules/*path",
    tag: "modules",
    auth: "user",
    summary: "Delete a module (its owner or an admin)",
    params: PathParams,
    response: Ok,
    errors: ["FORBIDDEN", "NOT_FOUND", "CONFLICT"],
  }),
};
