/**
 * The dependency rule (issue 14 item 6), as a check over every production .ts/.tsx import (relative and `@/`):
 *
 *   protocol ← core ← server;   protocol ← agent, cli;   protocol (+ core types) ← app
 *
 * no production file imports tests, test support, benchmarks, e2e or scripts; and protocol files import each other
 * without an extension (Turbopack does not map `.js` to `.ts`). `npx tsx scripts/check-boundaries.ts`
 * prints the violations; scripts/check-boundaries.test.ts runs it in `npm test`.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The top-level folders that are runtimes or the contract; each names what it may import (besides itself). */
const ALLOWED: Record<string, { values: string[]; types: string[] }> = {
  protocol: { values: [], types: [] },
  core: { values: ["protocol"], types: ["protocol"] },
  server: { values: ["protocol", "core"], types: ["protocol", "core"] },
  agent: { values: ["protocol"], types: ["protocol"] },
  cli: { values: ["protocol"], types: ["protocol"] },
  // the browser bundle takes core's types (DESIGN: "app uses protocol (+ core types)"), never its code (xstate)
  app: { values: ["protocol"], types: ["protocol", "core"] },
};
export const PRODUCTION_ROOTS = Object.keys(ALLOWED);

/** Folders and files that are not production code, whatever folder they sit in. */
const TOOLING_ROOTS = ["bench", "e2e", "scripts"];
/**
 * Test support inside production folders: the harness, the fuzz and chaos suites' helpers (shared with bench/),
 * the CLI runner and the team fixtures (review V2 proposes moving them to a top-level testing/).
 */
const TEST_SUPPORT = [
  /^server\/testing\//,
  /^server\/fuzz\//,
  /^server\/chaos\//,
  /^cli\/testing\.ts$/,
  /^server\/http\/team-fixtures\.ts$/,
];
const TEST_FILE = /\.(test|spec)\.tsx?$/;

export type Rule =
  | "core-imports-outer" // core imports server, agent, cli or app
  | "protocol-imports-ours" // protocol imports anything of ours outside protocol
  | "client-imports-server-or-core" // agent, cli or app import server or core (app: core types only)
  | "server-imports-client" // server imports agent, cli or app
  | "production-imports-tests-or-tooling" // production code imports tests, test support, bench, e2e or scripts
  | "protocol-import-extension"; // protocol files import each other with an extension (Turbopack maps no .js to .ts)

export interface Violation {
  file: string;
  line: number;
  specifier: string;
  rule: Rule;
  message: string;
}

/** Repo-relative posix path of a file (tests, test support and tooling are not production). */
export function isProduction(rel: string): boolean {
  const root = rel.split("/")[0];
  if (!PRODUCTION_ROOTS.includes(root)) return false;
  return !TEST_FILE.test(rel) && !TEST_SUPPORT.some((re) => re.test(rel));
}

interface ImportRef {
  specifier: string;
  line: number;
  typeOnly: boolean;
}

/** Every static and dynamic import, re-export and require of a source text. */
export function importsOf(fileName: string, text: string): ImportRef[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TSX);
  const out: ImportRef[] = [];
  const add = (lit: ts.Node, typeOnly: boolean) => {
    if (!ts.isStringLiteralLike(lit)) return;
    out.push({ specifier: lit.text, line: sf.getLineAndCharacterOfPosition(lit.getStart(sf)).line + 1, typeOnly });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      const c = node.importClause;
      const named = c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : undefined;
      const typeOnly =
        !!c && (c.isTypeOnly || (!c.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : undefined;
      add(node.moduleSpecifier, node.isTypeOnly || (!!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.arguments.length > 0) {
      const isImport = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === "require";
      if (isImport || isRequire) add(node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** The repo-relative posix path an import of ours points at (extension as written), or null for a package. */
export function resolveSpecifier(fromRel: string, specifier: string): string | null {
  if (specifier.startsWith("@/")) return path.posix.normalize(specifier.slice(2));
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return null;
  return path.posix.normalize(path.posix.join(path.posix.dirname(fromRel), specifier));
}

function isTestOrTooling(target: string): boolean {
  const root = target.split("/")[0];
  const asTs = target.replace(/\.(m?js|jsx)$/, (ext) => (ext === ".jsx" ? ".tsx" : ".ts"));
  return (
    TOOLING_ROOTS.includes(root) ||
    TEST_FILE.test(asTs) ||
    /\.(test|spec)$/.test(target) ||
    TEST_SUPPORT.some((re) => re.test(asTs) || re.test(`${target}.ts`) || re.test(`${target}/`))
  );
}

/** The violations of one production file (`rel`: repo-relative posix path). */
export function checkSource(rel: string, text: string): Violation[] {
  if (!isProduction(rel)) return [];
  const from = rel.split("/")[0];
  const out: Violation[] = [];
  for (const imp of importsOf(rel, text)) {
    const target = resolveSpecifier(rel, imp.specifier);
    if (target === null) continue;
    const to = target.split("/")[0];
    const v = (rule: Rule, why: string) =>
      out.push({
        file: rel,
        line: imp.line,
        specifier: imp.specifier,
        rule,
        message: `${rel}:${imp.line}: ${rule}: ${why}`,
      });
    if (target.startsWith("..")) {
      v("production-imports-tests-or-tooling", `imports ${imp.specifier}, outside the repository`);
    } else if (isTestOrTooling(target)) {
      v(
        "production-imports-tests-or-tooling",
        `imports ${imp.specifier} (${target}): tests, test support and tooling are not production code`,
      );
    } else if (to === from) {
      if (from === "protocol" && /\.[cm]?[jt]sx?$/.test(imp.specifier)) {
        v(
          "protocol-import-extension",
          `imports ${imp.specifier}: protocol files import each other without an extension`,
        );
      }
    } else if (!(imp.typeOnly ? ALLOWED[from].types : ALLOWED[from].values).includes(to)) {
      const allowed = ALLOWED[from].values.length ? ALLOWED[from].values.join(", ") : "nothing outside protocol";
      if (from === "core") v("core-imports-outer", `core imports ${to} (${imp.specifier}); core may import ${allowed}`);
      else if (from === "protocol")
        v("protocol-imports-ours", `protocol imports ${to} (${imp.specifier}); protocol imports only zod and node`);
      else if (from === "server")
        v("server-imports-client", `server imports ${to} (${imp.specifier}); server may import ${allowed}`);
      else {
        const extra = from === "app" && to === "core" ? " (core types only: import type)" : "";
        v(
          "client-imports-server-or-core",
          `${from} imports ${to} (${imp.specifier}); ${from} may import protocol${extra}`,
        );
      }
    }
  }
  return out;
}

function* sourceFiles(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === "node_modules" || e.name.startsWith(".")) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* sourceFiles(p);
    else if (/\.tsx?$/.test(e.name) && !e.name.endsWith(".d.ts")) yield p;
  }
}

/** Every violation in the repository's production code. */
export function checkRepo(root = ROOT): Violation[] {
  const out: Violation[] = [];
  for (const dir of PRODUCTION_ROOTS) {
    if (!fs.existsSync(path.join(root, dir))) continue;
    for (const file of sourceFiles(path.join(root, dir))) {
      const rel = path.relative(root, file).split(path.sep).join("/");
      out.push(...checkSource(rel, fs.readFileSync(file, "utf8")));
    }
  }
  return out;
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const found = checkRepo();
  for (const v of found) console.log(v.message);
  console.log(`${found.length} violation(s)`);
  process.exit(found.length ? 1 : 0);
}
