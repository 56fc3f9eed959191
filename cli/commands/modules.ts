import fs from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { API } from "../../protocol/catalog/index.js";
import { ModulePath } from "../../protocol/modules.js";
import { apiFor } from "../context.js";
import { usage } from "../errors.js";
import { printJson, println, table, when } from "../format.js";
import { defaultPrefix, pulledFile, pushBackCommand, readModuleFiles } from "../module-files.js";
import { registerModuleManage } from "./modules-manage.js";

export function registerModules(program: Command): void {
  const modules = program
    .command("modules")
    .description("modules as YAML files: push, pull, list; mv, rm, history, restore");

  modules
    .command("push")
    .description("save every *.yaml under DIR as modules, all or nothing")
    .argument("<dir>", "folder of module YAML files")
    .option("--prefix <path>", "module path prefix (default: DIR's own name; '' for none)")
    .option("--json", "print the API's JSON")
    .action(async (dir: string, opts: { prefix?: string; json?: boolean }, cmd: Command) => {
      const prefix = opts.prefix ?? defaultPrefix(dir);
      if (prefix !== "") {
        const ok = ModulePath.safeParse(prefix.replace(/^\/+|\/+$/g, ""));
        if (!ok.success) throw usage(`--prefix: '${prefix}' ${ok.error.issues[0]?.message}`);
      }
      const files = await readModuleFiles(dir, prefix);
      const api = await apiFor(cmd);
      const res = await api.call(API.importModules, {
        body: { files: files.map((f) => ({ path: f.path, yaml: f.yaml })) },
      });
      if (opts.json) return printJson(res);
      for (const m of res.modules) println(`saved ${m.path} (${m.kind}, version ${m.version})`);
    });

  modules
    .command("pull")
    .description("write the modules under PATH to DIR/<path relative to PATH's parent>.yaml")
    .argument("<path>", "module path (a module or a folder of modules)")
    .argument("<dir>", "folder to write into")
    .option("--json", "print the written files as JSON")
    .action(async (modulePath: string, dir: string, opts: { json?: boolean }, cmd: Command) => {
      const clean = modulePath.replace(/^\/+|\/+$/g, "");
      const ok = ModulePath.safeParse(clean);
      if (!ok.success) throw usage(`PATH: '${modulePath}' ${ok.error.issues[0]?.message}`);
      const api = await apiFor(cmd);
      const { modules: found } = await api.call(API.listModules, { query: { prefix: clean } });
      if (found.length === 0) throw usage(`PATH: no modules under '${clean}'`);
      const written: { path: string; file: string }[] = [];
      for (const m of found) {
        const yaml = await api.text(API.getModule, { params: { path: m.path }, query: { format: "yaml" } });
        const file = pulledFile(clean, m.path, dir);
        await fs.mkdir(path.dirname(file), { recursive: true });
        await fs.writeFile(file, yaml);
        written.push({ path: m.path, file });
      }
      if (opts.json) return printJson({ files: written });
      for (const w of written) println(`wrote ${path.relative(process.cwd(), w.file) || w.file}  (${w.path})`);
      println(`push them back with: ${pushBackCommand(clean, dir)}`);
    });

  modules
    .command("list")
    .description("list modules, optionally under a path prefix")
    .argument("[prefix]", "module path prefix")
    .option("--json", "print the API's JSON")
    .action(async (prefix: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const api = await apiFor(cmd);
      const res = await api.call(API.listModules, {
        query: prefix ? { prefix: prefix.replace(/^\/+|\/+$/g, "") } : {},
      });
      if (opts.json) return printJson(res);
      if (res.modules.length === 0) return println("no modules");
      println(
        table(
          ["PATH", "KIND", "VERSION", "OWNER", "UPDATED"],
          res.modules.map((m) => [m.path, m.kind, String(m.version), m.owner, when(m.updatedAt)]),
        ),
      );
    });

  registerModuleManage(modules);
}
