import type { z } from "zod";
import type { FieldProblem } from "../protocol/errors.js";

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
export function moduleProblems(error: z.ZodError, input: unknown): FieldProblem[] {
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
