import { type FieldProblem, fieldsError, SlipError } from "../protocol/errors.js";
import type { DeploymentModule, ImageModule } from "../protocol/modules.js";
import { MAX_PARAM_VALUE } from "../protocol/run.js";
import { BUILTIN_NODE_PARAMS, MAPPABLE_BUILTINS, RESERVED_PARAM_NAMES, restatesBuiltin } from "./builtins.js";
import { parseMapping, resolveImageRef } from "./module-refs.js";

function fail(path: string, problems: FieldProblem[]): void {
  if (problems.length > 0) throw fieldsError(problems, path);
}

/**
 * Checks a deployment against its images: every image exists, mapped inputs are inputs of the node's image,
 * mapped outputs exist (declared outputs or mappable built-ins), literals fit, and every input without a default
 * is mapped. Throws one BAD_REQUEST listing every problem, each naming its field.
 */
export function validateDeployment(
  path: string,
  doc: DeploymentModule,
  lookupImage: (imagePath: string) => ImageModule | undefined,
): void {
  const problems: FieldProblem[] = [];
  const images = new Map<string, { path: string; image: ImageModule }>();
  for (const [name, node] of Object.entries(doc.nodes)) {
    const field = `nodes.${name}.image`;
    let resolved: string;
    try {
      resolved = resolveImageRef(path, node.image, field);
    } catch (e) {
      problems.push({ path: field, message: e instanceof SlipError ? (e.fields?.[field] ?? e.message) : String(e) });
      continue;
    }
    const image = lookupImage(resolved);
    if (!image) problems.push({ path: field, message: `unknown image '${resolved}'` });
    else images.set(name, { path: resolved, image });
  }

  for (const [name, node] of Object.entries(doc.nodes)) {
    const own = images.get(name);
    for (const [input, raw] of Object.entries(node.mappings)) {
      const field = `nodes.${name}.mappings.${input}`;
      if (own) {
        const param = own.image.parameters.find((p) => p.name === input);
        if (param?.category !== "input") {
          problems.push({ path: field, message: `'${input}' is not an input parameter of image '${own.path}'` });
          continue;
        }
      }
      const mapping = parseMapping(raw);
      if (!mapping) {
        const hint = /^[A-Za-z][A-Za-z0-9_-]*\.[0-9]+:/.test(raw) ? " (map to the node, e.g. 'apache:port')" : "";
        problems.push({
          path: field,
          message: `'${raw}' must be <node>:<output> or a quoted literal ('value' or "value")${hint}`,
        });
        continue;
      }
      if (mapping.kind === "literal") {
        if (mapping.value.length > MAX_PARAM_VALUE)
          problems.push({ path: field, message: `literal must be at most ${MAX_PARAM_VALUE} characters` });
        continue;
      }
      if (!Object.hasOwn(doc.nodes, mapping.node)) {
        problems.push({ path: field, message: `'${mapping.node}' is not a node of this deployment` });
        continue;
      }
      const source = images.get(mapping.node);
      if (!source || MAPPABLE_BUILTINS.has(mapping.name)) continue; // unknown image already reported
      const param = source.image.parameters.find((p) => p.name === mapping.name);
      if (param?.category === "output") continue;
      const outputs = source.image.parameters.filter((p) => p.category === "output").map((p) => p.name);
      const detail = param
        ? ` ('${mapping.name}' is an input)`
        : ` (outputs: ${[...outputs, ...MAPPABLE_BUILTINS].join(", ")})`;
      problems.push({ path: field, message: `${mapping.node} has no output parameter '${mapping.name}'${detail}` });
    }
    if (own) {
      for (const p of own.image.parameters) {
        if (p.category !== "input" || p.default !== undefined || Object.hasOwn(node.mappings, p.name)) continue;
        problems.push({
          path: `nodes.${name}.mappings.${p.name}`,
          message: `input '${p.name}' has no default and is not mapped`,
        });
      }
    }
  }
  fail(path, problems);
}

/**
 * Checks an image's parameters: unique names, none named like a built-in — except an instance built-in restated as
 * an output without a default, which every SlipStream image does for `hostname` and `instanceid`: it means the
 * built-in itself, so modules taken from SlipStream import unchanged.
 */
export function validateImage(path: string, doc: ImageModule): void {
  const problems: FieldProblem[] = [];
  const seen = new Map<string, number>();
  doc.parameters.forEach((p, i) => {
    const field = `parameters[${i}].name`;
    const first = seen.get(p.name);
    if (first !== undefined)
      problems.push({ path: field, message: `duplicate parameter '${p.name}' (also parameters[${first}])` });
    else seen.set(p.name, i);
    if (RESERVED_PARAM_NAMES.has(p.name) && !restatesBuiltin(p)) {
      const where = Object.hasOwn(BUILTIN_NODE_PARAMS, p.name) ? "node" : "instance";
      const restate = where === "instance" ? " (it may only be restated as an output without a default)" : "";
      problems.push({ path: field, message: `'${p.name}' is a built-in ${where} parameter${restate}` });
    }
  });
  fail(path, problems);
}
