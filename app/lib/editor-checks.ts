import type { ModuleRecord } from "@/protocol/modules";
import { resolveImageRef } from "./modules";

/**
 * What the deployment editor refuses before sending, by the field the server would name: an empty or unknown
 * image, and a node of no machines (a run may still start one at 0 when it is scalable, in the Run… dialog).
 */
export function deploymentDraftProblems(
  path: string,
  nodes: readonly { name: string; image: string; multiplicity: string }[],
  modules: readonly ModuleRecord[],
): Record<string, string> {
  const fields: Record<string, string> = {};
  const images = new Set(modules.filter((m) => m.kind === "image").map((m) => m.path));
  for (const n of nodes) {
    const ref = n.image.trim();
    if (ref === "") fields[`nodes.${n.name}.image`] = "choose the image this node runs";
    else {
      const target = resolveImageRef(path, ref);
      if (!images.has(target)) fields[`nodes.${n.name}.image`] = `there is no image at '${target}'`;
    }
    if (n.multiplicity.trim() === "0") {
      fields[`nodes.${n.name}.multiplicity`] =
        "0 starts no machine: save 1 or more (a scalable run can still start at 0 from the Run… dialog)";
    }
  }
  return fields;
}

/** The image editor's empty required fields: every parameter needs a name. */
export function imageDraftProblems(parameters: readonly { name: string }[]): Record<string, string> {
  const fields: Record<string, string> = {};
  parameters.forEach((p, i) => {
    if (p.name.trim() === "") fields[`parameters[${i}].name`] = "give the parameter a name";
  });
  return fields;
}
