import fs from "node:fs/promises";
import path from "node:path";
import type { Caller, ModuleService } from "./modules/service.js";

/** Every `*.yaml` below `dir`, as module path (relative, without `.yaml`) → text. */
export async function readModuleTree(dir: string, prefix = ""): Promise<{ path: string; yaml: string }[]> {
  const out: { path: string; yaml: string }[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await readModuleTree(full, `${prefix}${entry.name}/`)));
    else if (entry.name.endsWith(".yaml")) {
      out.push({ path: `${prefix}${entry.name.slice(0, -5)}`, yaml: await fs.readFile(full, "utf8") });
    }
  }
  return out;
}

/** First start: the shipped examples become modules `examples/...` owned by admin. */
export async function seedExamples(modules: ModuleService, admin: Caller, examplesDir: string): Promise<number> {
  if (!modules.isEmpty) return 0;
  const files = (await readModuleTree(examplesDir)).map((f) => ({ ...f, path: `examples/${f.path}` }));
  if (files.length === 0) return 0;
  modules.importYaml(admin, files);
  return files.length;
}
