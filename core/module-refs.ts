import { fieldError } from "../protocol/errors.js";
import { ModulePath } from "../protocol/modules.js";
import { NODE_NAME_RE, PARAM_NAME_RE } from "../protocol/run.js";

/**
 * Resolves an image reference of a deployment: relative to the deployment's folder (`apache`, `../common/base`),
 * or absolute from the root with a leading `/`. Throws BAD_REQUEST naming `field` when the reference leaves the
 * root or is not a module path.
 */
export function resolveImageRef(deploymentPath: string, ref: string, field = "image"): string {
  const segments = ref.startsWith("/") ? [] : deploymentPath.split("/").slice(0, -1);
  for (const seg of ref.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (segments.length === 0) throw fieldError(field, `'${ref}' points outside the root`);
      segments.pop();
    } else {
      segments.push(seg);
    }
  }
  const resolved = segments.join("/");
  if (!ModulePath.safeParse(resolved).success) throw fieldError(field, `'${ref}' is not a valid module path`);
  return resolved;
}

type Mapping = { kind: "literal"; value: string } | { kind: "output"; node: string; name: string };

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
