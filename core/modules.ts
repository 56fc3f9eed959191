import {
  Composer,
  type CST,
  Document,
  isScalar,
  LineCounter,
  Parser,
  parseDocument,
  Scalar,
  visit,
  YAMLMap,
  YAMLParseError,
  YAMLSeq,
} from "yaml";
import type { z } from "zod";
import { type FieldProblem, fieldError, fieldsError, SlipError } from "../protocol/errors.js";
import {
  type DeploymentModule,
  type DeploymentNode,
  type ImageModule,
  type ImageParameter,
  ModuleDoc,
  ModulePath,
} from "../protocol/modules.js";
import { MAX_PARAM_VALUE, NODE_NAME_RE, PARAM_NAME_RE } from "../protocol/run.js";
import { BUILTIN_NODE_PARAMS, MAPPABLE_BUILTINS, RESERVED_PARAM_NAMES } from "./builtins.js";

// ---------------------------------------------------------------------------------------------------------------
// Parsing

/**
 * Parses one module file. `path` only names the file in error messages. Throws a BAD_REQUEST SlipError naming
 * the file and the field (`apache.yaml: targets.execut: unknown field`) or the line of a syntax error.
 * Rejects multiple documents, duplicate keys and aliases.
 */
export function parseModuleYaml(text: string, path: string): ModuleDoc {
  const lineCounter = new LineCounter();
  // parseDocument in two steps: the syntax tree is read without recursion, building the document recurses once per
  // level of nesting, and a stack overflow there can land in V8's regexp compiler, which ends the process
  const tokens = [...new Parser(lineCounter.addNewLine).parse(text)];
  const deep = tooDeep(tokens);
  if (deep !== null) {
    const { line, col } = lineCounter.linePos(deep);
    throw new SlipError(
      "BAD_REQUEST",
      `${path}: line ${line}, column ${col}: nested more than ${MAX_YAML_DEPTH} levels deep`,
    );
  }
  // duplicate keys are found below with a set: the library's check compares each key with every other one, and a
  // file of 150 000 keys then holds the event loop for minutes
  const docs = new Composer({ uniqueKeys: false }).compose(tokens, true, text.length);
  const doc = docs.next().value as Document.Parsed;
  const second = docs.next();
  if (!second.done) {
    const range = second.value.range;
    doc.errors.push(new YAMLParseError([range[0], range[1]], "MULTIPLE_DOCS", "Source contains multiple documents"));
  }
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const { line, col } = lineCounter.linePos(err.pos[0]);
    throw new SlipError("BAD_REQUEST", `${path}: line ${line}, column ${col}: ${yamlMessage(err.code, err.message)}`);
  }
  let refused: { at: number; why: string } | undefined;
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const { key } of map.items) {
        const k = isScalar(key) ? key.value : key;
        if (seen.has(k)) {
          refused = { at: (key as { range?: [number] } | null)?.range?.[0] ?? 0, why: "duplicate key" };
          return visit.BREAK;
        }
        seen.add(k);
      }
    },
    Alias(_key, node) {
      refused = { at: node.range?.[0] ?? 0, why: "aliases (*name) are not allowed" };
      return visit.BREAK;
    },
  });
  if (refused !== undefined) {
    const { line, col } = lineCounter.linePos(refused.at);
    throw new SlipError("BAD_REQUEST", `${path}: line ${line}, column ${col}: ${refused.why}`);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 0 });
  } catch (e) {
    throw new SlipError("BAD_REQUEST", `${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const result = ModuleDoc.safeParse(value);
  if (!result.success) throw fieldsError(moduleProblems(result.error, value), path);
  return result.data;
}

/** Far more than any module needs (a deployment is four levels deep), far less than what overflows the stack. */
export const MAX_YAML_DEPTH = 64;

/** The offset of the first collection nested deeper than MAX_YAML_DEPTH, or null; walked with a stack of its own. */
function tooDeep(tokens: CST.Token[]): number | null {
  const todo: [CST.Token, number][] = tokens.map((t) => [t, 0]);
  for (let next = todo.pop(); next; next = todo.pop()) {
    const [token, depth] = next;
    if (depth > MAX_YAML_DEPTH) return token.offset;
    if (token.type === "document" && token.value) todo.push([token.value, depth]);
    else if (token.type === "block-map" || token.type === "block-seq" || token.type === "flow-collection") {
      for (const item of token.items) {
        if ("key" in item && item.key) todo.push([item.key, depth + 1]);
        if (item.value) todo.push([item.value, depth + 1]);
      }
    }
  }
  return null;
}

function yamlMessage(code: string, message: string): string {
  if (code === "DUPLICATE_KEY") return "duplicate key";
  if (code === "MULTIPLE_DOCS") return "only one document per file (found '---')";
  // the library appends " at line L, column C:" and a code excerpt; we give the position ourselves
  const first = message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
  return first.charAt(0).toLowerCase() + first.slice(1);
}

/** `["parameters", 0, "default"]` → `parameters[0].default` */
function fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a map";
  if (typeof v === "string") return "a string";
  if (typeof v === "number") return "a number";
  if (typeof v === "boolean") return "a boolean";
  return typeof v;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): { found: boolean; value: unknown } {
  let cur: unknown = root;
  for (const p of path) {
    if (cur === null || typeof cur !== "object" || !Object.hasOwn(cur, p)) return { found: false, value: undefined };
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return { found: true, value: cur };
}

/**
 * Rewrites zod's issues in the words of a module file (`unknown field`, `required`, `expected a string, got a
 * number`) with `a.b[0].c` field paths.
 */
function moduleProblems(error: z.ZodError, input: unknown): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const push = (_issue: z.core.$ZodIssue, path: readonly PropertyKey[], message: string) =>
    problems.push({ path: path.length ? fieldPath(path) : "", message });
  for (const issue of error.issues) {
    const path = issue.path;
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) push(issue, [...path, key], "unknown field");
    } else if (issue.code === "invalid_key") {
      const inner = issue.issues.map((i) => i.message).join(", ");
      const what = path.at(-2) === "nodes" ? "node name" : "parameter name";
      push(issue, path, `bad ${what}: ${inner}`);
    } else if (issue.code === "invalid_union" && path.length === 1 && path[0] === "kind") {
      const at = valueAt(input, path);
      push(issue, path, at.found ? "must be image, deployment or project" : "required (image, deployment or project)");
    } else if (issue.code === "invalid_type" && path.length === 0) {
      const got = input === null || input === undefined ? "an empty file" : typeName(input);
      push(issue, path, `expected a map with kind: image, deployment or project, got ${got}`);
    } else if (issue.code === "invalid_type") {
      const at = valueAt(input, path);
      if (!at.found || at.value === undefined) push(issue, path, "required");
      else if (issue.expected === "int") push(issue, path, "must be a whole number");
      else if (issue.expected === "string" && (typeof at.value === "number" || typeof at.value === "boolean"))
        push(issue, path, `expected a string, got ${typeName(at.value)} (quote it: '${String(at.value)}')`);
      else
        push(
          issue,
          path,
          `expected ${issue.expected === "record" ? "a map" : issue.expected}, got ${typeName(at.value)}`,
        );
    } else if (issue.code === "invalid_value") {
      push(issue, path, `must be ${issue.values.map(String).join(" or ")}`);
    } else {
      push(issue, path, issue.message);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// Serializing

const TO_STRING = { lineWidth: 0, indentSeq: true, flowCollectionPadding: true, doubleQuotedAsJSON: true } as const;
const TARGET_ORDER = ["pre-install", "packages", "post-install", "execute", "report", "onvmadd", "onvmremove"] as const;

/**
 * Writes a module as YAML in a stable, readable form: fixed key order, scripts as literal block scalars,
 * parameters one per line in flow style. `parseModuleYaml(serializeModuleYaml(doc))` deep-equals `doc`.
 */
export function serializeModuleYaml(doc: ModuleDoc): string {
  const root = new YAMLMap();
  root.set("kind", doc.kind);
  if (doc.description !== undefined) root.set("description", text(doc.description));

  if (doc.kind === "image") {
    if (doc.parameters.length > 0) {
      const params = new YAMLSeq();
      for (const p of doc.parameters) params.items.push(parameterNode(p));
      root.set("parameters", params);
    }
    const targets = new YAMLMap();
    for (const name of TARGET_ORDER) {
      if (name === "packages") {
        const packages = doc.targets.packages;
        if (packages === undefined) continue;
        const seq = new YAMLSeq();
        seq.flow = true;
        seq.items.push(...packages.map((p) => text(p)));
        targets.set(name, seq);
      } else {
        const script = doc.targets[name];
        if (script !== undefined) targets.set(name, text(script, true));
      }
    }
    if (targets.items.length > 0) root.set("targets", targets);
  } else if (doc.kind === "deployment") {
    const nodes = new YAMLMap();
    for (const [name, node] of Object.entries(doc.nodes)) nodes.set(name, nodeNode(node));
    root.set("nodes", nodes);
  }

  const out = new Document();
  out.contents = root;
  return out.toString(TO_STRING);
}

/** A string scalar; multi-line text (and every script) as a literal block, or double-quoted when it cannot be one. */
function text(value: string, block = false): Scalar<string> {
  const s = new Scalar(value);
  if (block || value.includes("\n")) s.type = literalRoundTrips(value) ? Scalar.BLOCK_LITERAL : Scalar.QUOTE_DOUBLE;
  return s;
}

/** C0 controls except tab and newline, DEL, C1 controls, line/paragraph separators, BOM. */
function hasUnprintable(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a) || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029) return true;
    if (c === 0xfeff) return true;
  }
  return false;
}

/** Some texts (whitespace-only lines, control characters) don't survive a literal block: those get quoted. */
function literalRoundTrips(value: string): boolean {
  if (hasUnprintable(value)) return false;
  if (/(^|\n)[ \t]+(\n|$)/.test(value)) return false; // whitespace-only lines are read back as empty lines
  const s = new Scalar(value);
  s.type = Scalar.BLOCK_LITERAL;
  const probe = new Document();
  probe.contents = new YAMLMap();
  (probe.contents as YAMLMap).set("v", s);
  (probe.contents as YAMLMap).set("w", "x");
  try {
    const back = parseDocument(probe.toString(TO_STRING)).toJS() as { v?: unknown };
    return back?.v === value;
  } catch {
    return false;
  }
}

function parameterNode(p: ImageParameter): YAMLMap {
  const m = new YAMLMap();
  // one line per parameter; a flow map cannot hold block scalars, so multi-line values make it a block map
  m.flow = !(p.default?.includes("\n") || p.description?.includes("\n"));
  m.set("name", text(p.name));
  m.set("category", p.category);
  if (p.default !== undefined) m.set("default", text(p.default));
  if (p.description !== undefined) m.set("description", text(p.description));
  return m;
}

function nodeNode(node: DeploymentNode): YAMLMap {
  const mappings = Object.entries(node.mappings ?? {});
  const m = new YAMLMap();
  m.flow = mappings.length === 0 && !node.image.includes("\n") && !node.cloud?.includes("\n");
  m.set("image", text(node.image));
  m.set("multiplicity", node.multiplicity);
  if (node.cloud !== undefined) m.set("cloud", text(node.cloud));
  if (mappings.length > 0) {
    const mm = new YAMLMap();
    for (const [input, value] of mappings) mm.set(input, text(value));
    m.set("mappings", mm);
  }
  return m;
}

// ---------------------------------------------------------------------------------------------------------------
// References and mappings

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

// ---------------------------------------------------------------------------------------------------------------
// Validation

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

/** Checks an image's parameters: unique names, none named like a built-in. */
export function validateImage(path: string, doc: ImageModule): void {
  const problems: FieldProblem[] = [];
  const seen = new Map<string, number>();
  doc.parameters.forEach((p, i) => {
    const field = `parameters[${i}].name`;
    const first = seen.get(p.name);
    if (first !== undefined)
      problems.push({ path: field, message: `duplicate parameter '${p.name}' (also parameters[${first}])` });
    else seen.set(p.name, i);
    if (RESERVED_PARAM_NAMES.has(p.name)) {
      const where = Object.hasOwn(BUILTIN_NODE_PARAMS, p.name) ? "node" : "instance";
      problems.push({ path: field, message: `'${p.name}' is a built-in ${where} parameter` });
    }
  });
  fail(path, problems);
}
