import type { Command } from "commander";
import { API } from "../../protocol/catalog/index.js";
import { ModulePath } from "../../protocol/modules.js";
import { apiFor } from "../context.js";
import { usage } from "../errors.js";
import { printJson, println, table, when } from "../format.js";

/** A module path argument, its slashes at either end dropped; a usage error naming the argument otherwise. */
function modulePath(value: string, name: string): string {
  const clean = value.replace(/^\/+|\/+$/g, "");
  const ok = ModulePath.safeParse(clean);
  if (!ok.success) throw usage(`${name}: '${value}' ${ok.error.issues[0]?.message}`);
  return clean;
}

/** `modules mv`, `rm`, `history` and `restore`: what the dashboard's module management does. */
export function registerModuleManage(modules: Command): void {
  modules
    .command("mv")
    .description("move or rename a module, or a folder with everything under it (history follows)")
    .argument("<from>", "module or folder path")
    .argument("<to>", "new path")
    .option("--json", "print the API's JSON")
    .action(async (from: string, to: string, opts: { json?: boolean }, cmd: Command) => {
      const body = { from: modulePath(from, "FROM"), to: modulePath(to, "TO") };
      const res = await (await apiFor(cmd)).call(API.moveModule, { body });
      if (opts.json) return printJson(res);
      for (const m of res.moved) println(`moved ${m.from} → ${m.to}`);
    });

  modules
    .command("rm")
    .description("delete a module; with --folder, a folder and every module under it")
    .argument("<path>", "module path")
    .option("--folder", "delete everything under PATH")
    .option("--json", "print the API's JSON")
    .action(async (p: string, opts: { folder?: boolean; json?: boolean }, cmd: Command) => {
      const path = modulePath(p, "PATH");
      const api = await apiFor(cmd);
      let deleted = [path];
      if (opts.folder) deleted = (await api.call(API.deleteFolder, { params: { path } })).deleted;
      else await api.call(API.deleteModule, { params: { path } });
      if (opts.json) return printJson({ deleted });
      for (const d of deleted) println(`deleted ${d}`);
    });

  modules
    .command("history")
    .description("a module's saved versions, newest first")
    .argument("<path>", "module path")
    .option("--json", "print the API's JSON")
    .action(async (p: string, opts: { json?: boolean }, cmd: Command) => {
      const res = await (await apiFor(cmd)).call(API.moduleVersions, { params: { path: modulePath(p, "PATH") } });
      if (opts.json) return printJson(res);
      println(
        table(
          ["VERSION", "AUTHOR", "SAVED"],
          res.versions.map((v) => [String(v.version), v.author, when(v.createdAt)]),
        ),
      );
    });

  modules
    .command("restore")
    .description("save an old version of a module as its newest version")
    .argument("<path>", "module path")
    .argument("<version>", "the version to restore")
    .option("--json", "print the API's JSON")
    .action(async (p: string, v: string, opts: { json?: boolean }, cmd: Command) => {
      if (!/^[1-9]\d{0,8}$/.test(v)) throw usage(`VERSION: '${v}' must be a version number (1, 2, …)`);
      const res = await (await apiFor(cmd)).call(API.restoreModule, {
        params: { path: modulePath(p, "PATH") },
        body: { version: Number(v) },
      });
      if (opts.json) return printJson(res);
      println(`restored ${res.path} version ${v} as version ${res.version}`);
    });
}
