import { XMLParser } from "fast-xml-parser";

/**
 * JUnit XML, the format every CI reads (Jenkins, GitLab, GitHub Actions' reporters, Buildkite's test analytics):
 * parsed from the files tests leave in a node's report, and written for a run (one test case per instance).
 * The dialects differ (Maven surefire, pytest, jest-junit, go-junit-report): `<testsuites>` or a bare
 * `<testsuite>`, counts as attributes or only as children, `<failure>`/`<error>` with a message attribute or text.
 */

export type CaseStatus = "passed" | "failed" | "error" | "skipped";

export interface JunitCase {
  name: string;
  classname: string;
  /** seconds, when the file says */
  time: number | null;
  status: CaseStatus;
  /** the failure's, error's or skip's message (its attribute, else the first line of its text) */
  message: string | null;
  /** the failure's text (a stack trace, an assertion's diff), cut to `MAX_DETAILS` */
  details: string | null;
}

export interface JunitSuite {
  name: string;
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  time: number | null;
  cases: JunitCase[];
}

/** A report's test file may hold many thousands of cases; the run page and the merged XML keep these many per suite. */
export const MAX_CASES_PER_SUITE = 2000;
const MAX_DETAILS = 4000;
const MAX_TEXT = 500;

type Node = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  textNodeName: "#text",
  // suites and cases are lists whether a file has one or many
  isArray: (name) => ["testsuite", "testcase", "failure", "error", "skipped"].includes(name),
  processEntities: true,
  htmlEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
});

function text(v: unknown): string | null {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && "#text" in v) return String((v as Node)["#text"]);
  return null;
}

function attr(n: Node, name: string): string | null {
  const v = n[`@${name}`];
  return typeof v === "string" ? v : null;
}

function num(n: Node, name: string): number | null {
  const v = attr(n, name);
  if (v === null || v.trim() === "") return null;
  const x = Number(v.replace(/,/g, ""));
  return Number.isFinite(x) && x >= 0 ? x : null;
}

function cut(s: string | null, max: number): string | null {
  if (s === null) return null;
  const t = s.trim();
  if (t === "") return null;
  return t.length > max ? `${t.slice(0, max)}… (cut)` : t;
}

function outcome(c: Node): { status: CaseStatus; message: string | null; details: string | null } {
  for (const [tag, status] of [
    ["failure", "failed"],
    ["error", "error"],
    ["skipped", "skipped"],
  ] as const) {
    const list = c[tag];
    if (!Array.isArray(list) || list.length === 0) continue;
    const first = list[0] as unknown;
    const node: Node = first && typeof first === "object" ? (first as Node) : {};
    const body = text(first);
    const message = attr(node, "message") ?? (body ? (body.trim().split("\n")[0] ?? null) : null);
    return { status, message: cut(message, MAX_TEXT), details: cut(body, MAX_DETAILS) };
  }
  return { status: "passed", message: null, details: null };
}

function suiteOf(s: Node, fallbackName: string): JunitSuite {
  const rawCases = Array.isArray(s.testcase) ? (s.testcase as unknown[]) : [];
  const cases: JunitCase[] = [];
  const counted = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  for (const raw of rawCases) {
    const c: Node = raw && typeof raw === "object" ? (raw as Node) : {};
    const o = outcome(c);
    counted.tests++;
    if (o.status === "failed") counted.failures++;
    if (o.status === "error") counted.errors++;
    if (o.status === "skipped") counted.skipped++;
    if (cases.length < MAX_CASES_PER_SUITE) {
      cases.push({
        name: cut(attr(c, "name"), MAX_TEXT) ?? "(unnamed)",
        classname: cut(attr(c, "classname"), MAX_TEXT) ?? "",
        time: num(c, "time"),
        ...o,
      });
    }
  }
  // the file's own counts win when it has them (a suite cut to MAX_CASES still says how many it ran)
  return {
    name: cut(attr(s, "name"), MAX_TEXT) ?? fallbackName,
    tests: num(s, "tests") ?? counted.tests,
    failures: num(s, "failures") ?? counted.failures,
    errors: num(s, "errors") ?? counted.errors,
    skipped: num(s, "skipped") ?? num(s, "disabled") ?? counted.skipped,
    time: num(s, "time"),
    cases,
  };
}

/** Nested suites (surefire, jest) flattened: each suite with cases of its own becomes one entry. */
function collect(s: Node, fallbackName: string, out: JunitSuite[]): void {
  const inner = Array.isArray(s.testsuite) ? (s.testsuite as unknown[]) : [];
  if (Array.isArray(s.testcase) || inner.length === 0) out.push(suiteOf(s, fallbackName));
  for (const child of inner) if (child && typeof child === "object") collect(child as Node, fallbackName, out);
}

/**
 * The suites of a JUnit XML document, or null when the text is not JUnit (another XML file in a report, or not
 * XML at all). Never throws.
 */
export function parseJunit(xml: string, fallbackName = "tests"): JunitSuite[] | null {
  if (!/<testsuites?[\s>/]/.test(xml)) return null;
  let doc: Node;
  try {
    doc = parser.parse(xml) as Node;
  } catch {
    return null;
  }
  const out: JunitSuite[] = [];
  const root = doc.testsuites;
  if (root !== undefined) {
    const suites = root && typeof root === "object" ? (root as Node).testsuite : undefined;
    for (const s of Array.isArray(suites) ? suites : []) {
      if (s && typeof s === "object") collect(s as Node, fallbackName, out);
    }
    return out;
  }
  const bare = doc.testsuite;
  if (!Array.isArray(bare)) return null;
  for (const s of bare) if (s && typeof s === "object") collect(s as Node, fallbackName, out);
  return out;
}

export interface Totals {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
}

export function totals(suites: readonly Totals[]): Totals {
  const t = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  for (const s of suites) {
    t.tests += s.tests;
    t.failures += s.failures;
    t.errors += s.errors;
    t.skipped += s.skipped;
  }
  return t;
}

// XML 1.0 cannot carry most control characters at all, even escaped: a log tail full of ANSI colours would make
// the whole file unreadable to the CI, so they go
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters being removed
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDFFF]/g;

export function xmlEscape(s: string): string {
  return s
    .replace(NOT_XML, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

export interface JunitDocument {
  name: string;
  suites: (Omit<JunitSuite, "cases"> & {
    cases: (JunitCase & { systemOut?: string | null })[];
    properties?: Record<string, string>;
    systemOut?: string | null;
  })[];
}

/** One JUnit XML document; counts come from the suites, times in seconds. */
export function renderJunit(doc: JunitDocument): string {
  const all = totals(doc.suites);
  const time = doc.suites.reduce((n, s) => n + (s.time ?? 0), 0);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xmlEscape(doc.name)}" tests="${all.tests}" failures="${all.failures}" errors="${all.errors}" skipped="${all.skipped}" time="${time.toFixed(3)}">`,
  ];
  for (const s of doc.suites) {
    lines.push(
      `  <testsuite name="${xmlEscape(s.name)}" tests="${s.tests}" failures="${s.failures}" errors="${s.errors}" skipped="${s.skipped}"${s.time === null ? "" : ` time="${s.time.toFixed(3)}"`}>`,
    );
    const props = Object.entries(s.properties ?? {});
    if (props.length > 0) {
      lines.push("    <properties>");
      for (const [k, v] of props) lines.push(`      <property name="${xmlEscape(k)}" value="${xmlEscape(v)}"/>`);
      lines.push("    </properties>");
    }
    for (const c of s.cases) {
      const open = `    <testcase name="${xmlEscape(c.name)}" classname="${xmlEscape(c.classname)}"${c.time === null ? "" : ` time="${c.time.toFixed(3)}"`}`;
      const out = c.systemOut ? `      <system-out>${xmlEscape(c.systemOut)}</system-out>` : null;
      if (c.status === "passed" && out === null) {
        lines.push(`${open}/>`);
        continue;
      }
      lines.push(`${open}>`);
      if (c.status !== "passed") {
        const tag = c.status === "failed" ? "failure" : c.status;
        const message = c.message === null ? "" : ` message="${xmlEscape(c.message)}"`;
        lines.push(
          c.details ? `      <${tag}${message}>${xmlEscape(c.details)}</${tag}>` : `      <${tag}${message}/>`,
        );
      }
      if (out !== null) lines.push(out);
      lines.push("    </testcase>");
    }
    if (s.systemOut) lines.push(`    <system-out>${xmlEscape(s.systemOut)}</system-out>`);
    lines.push("  </testsuite>");
  }
  lines.push("</testsuites>", "");
  return lines.join("\n");
}
