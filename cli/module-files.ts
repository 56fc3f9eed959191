import fs from "node:fs/promises";
import path from "node:path";
import { ModulePath } from "../protocol/modules.js";
import { usage } from "./errors.js";

interface ModuleFile {
  /** module path */
  path: string;
  /** file it came from */
  file: string;
  yaml: string;
}

/** The default `--prefix` of `modules push DIR`: the folder's own name (`push examples` → `examples/...`). */
export const defaultPrefix = (dir: string) => path.basename(path.resolve(dir));

/** Every `*.yaml` below `dir` (hidden folders skipped) as `prefix/` + relative path without `.yaml`. */
export async function readModuleFiles(dir: string, prefix: string): Promise<ModuleFile[]> {
  const root = path.resolve(dir);
  const stat = await fs.stat(root).catch(() => null);
  if (!stat?.isDirectory()) throw usage(`DIR: '${dir}' is not a directory`);
  const cleanPrefix = prefix.replace(/^\/+|\/+$/g, "");
  const out: ModuleFile[] = [];
  const walk = async (abs: string, rel: string) => {
    const entries = await fs.readdir(abs, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (e.name.startsWith(".")) continue;
      const full = path.join(abs, e.name);
      if (e.isDirectory()) await walk(full, `${rel}${e.name}/`);
      else if (e.isFile() && e.name.endsWith(".yaml")) {
        const modulePath = [cleanPrefix, `${rel}${e.name.slice(0, -".yaml".length)}`].filter(Boolean).join("/");
        const ok = ModulePath.safeParse(modulePath);
        if (!ok.success) {
          throw usage(
            `${path.relative(process.cwd(), full) || full}: module path '${modulePath}' ${ok.error.issues[0]?.message}`,
          );
        }
        out.push({ path: modulePath, file: full, yaml: await fs.readFile(full, "utf8") });
      }
    }
  };
  await walk(root, "");
  if (out.length === 0) throw usage(`DIR: no *.yaml files under '${dir}'`);
  return out;
}

/** Where `modules pull PATH DIR` writes a module: DIR/<module path relative to PATH's parent>.yaml. */
export function pulledFile(pulledPath: string, modulePath: string, dir: string): string {
  const parent = path.posix.dirname(pulledPath);
  const rel = parent === "." ? modulePath : modulePath.slice(parent.length + 1);
  return path.join(path.resolve(dir), `${rel}.yaml`);
}

/** The command that pushes a pulled tree back to the same module paths. */
export function pushBackCommand(pulledPath: string, dir: string): string {
  const base = path.posix.basename(pulledPath);
  const folder = path.join(dir, base);
  return base === pulledPath
    ? `slipstream modules push ${folder}`
    : `slipstream modules push ${folder} --prefix ${pulledPath}`;
}
