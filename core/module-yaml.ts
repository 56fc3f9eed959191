import { Composer, type CST, type Document, isScalar, LineCounter, Parser, visit, YAMLParseError } from "yaml";
import { fieldsError, SlipError } from "../protocol/errors.js";
import { ModuleDoc } from "../protocol/modules.js";
import { moduleProblems } from "./module-problems.js";

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
