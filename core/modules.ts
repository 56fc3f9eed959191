/**
 * Modules in core: YAML in (module-yaml.ts, with its limits; zod's issues reworded in module-problems.ts) and out
 * (module-serialize.ts), image references and mappings (module-refs.ts), and the checks of a deployment against its
 * images and of an image's parameters (module-validation.ts).
 */
export { parseMapping, resolveImageRef } from "./module-refs.js";
export { serializeModuleYaml } from "./module-serialize.js";
export { validateDeployment, validateImage } from "./module-validation.js";
export { MAX_YAML_DEPTH, parseModuleYaml } from "./module-yaml.js";
