// declared in protocol: the deployment editor reads references and mappings with the same rules
export { type Mapping, parseMapping, readImageRef, resolveImageRef } from "../protocol/module-refs.js";
