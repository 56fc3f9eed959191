import { fieldError } from "./errors";
import { ModulePath } from "./modules";
import { NODE_NAME_RE, PARAM_NAME_RE } from "./run";

/**
 * Reading a deployment's references, the same in the server (which refuses what is wrong) and in the editor (which
 * shows it while one types): image references and mapping values.
 */

/** Instance built-ins another node's input may be mapped to (`apache:hostname`), besides declared outputs. */
export const MAPPABLE_BUILTINS: ReadonlySet<string> = new Set([
  "hostname",
  "instanceid",
  "url.ssh",
  "url.service",
  "statecustom",
  "nodename",
  "id",
  "cloud",
  "cloudservice",
  "image.id",
]);

/**
 * An image reference of a deployment, relative to its folder (`apache`, `../common/base`) or absolute from the root
 * with a leading `/`: the path it names, and what is wrong with it (null when nothing).
 */
export function readImageRef(deploymentPath: string, ref: string): { path: string; problem: string | null } {
  const segments = ref.startsWith("/") ? [] : deploymentPath.split("/").slice(0, -1);
  let outside = false;
  for (const seg of ref.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (segments.length === 0) outside = true;
      segments.pop();
    } else segments.push(seg);
  }
  const path = segments.join("/");
  if (outside) return { path, problem: `'${ref}' points outside the root` };
  if (!ModulePath.safeParse(path).success) return { path, problem: `'${ref}' is not a valid module path` };
  return { path, problem: null };
}

/** The path an image reference names; a BAD_REQUEST naming `field` when it leaves the root or is no module path. */
export function resolveImageRef(deploymentPath: string, ref: string, field = "image"): string {
  const { path, problem } = readImageRef(deploymentPath, ref);
  if (problem) throw fieldError(field, problem);
  return path;
}

export type Mapping = { kind: "literal"; value: string } | { kind: "output"; node: string; name: string };

/** A mapping value: `'literal'` / `"literal"`, or `<node>:<output>`; null when it is neither. */
export function parseMapping(value: string): Mapping | null {
  if (value.length >= 2) {
    const q = value[0];
    if ((q === "'" || q === '"') && value.at(-1) === q) return { kind: "literal", value: value.slice(1, -1) };
  }
  const colon = value.indexOf(":");
  if (colon < 0) return null;
  const node = value.slice(0, colon);
  const name = value.slice(colon + 1);
  if (!NODE_NAME_RE.test(node) || !PARAM_NAME_RE.test(name)) return null;
  return { kind: "output", node, name };
}
