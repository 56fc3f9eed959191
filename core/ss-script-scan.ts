/**
 * Finds the ss-* commands a recipe script runs, as far as its text shows them: a light shell reader (quotes,
 * escapes, `$(…)` and backquote substitutions, comments, `\` line continuations), not a shell. It never runs
 * anything; a word built from a variable or a substitution is reported as not literal, and the dry run says it
 * could not check it.
 */

export const SS_COMMANDS = ["ss-get-all", "ss-get", "ss-set", "ss-display", "ss-abort", "ss-random"] as const;
export type SsCommand = (typeof SS_COMMANDS)[number];

export interface ScriptWord {
  text: string;
  /** false when the shell would expand part of it ($VAR, $(…), `…`): its value is known only when it runs */
  literal: boolean;
}

export interface SsInvocation {
  command: SsCommand;
  /** 1-based line of the script where the command starts */
  line: number;
  /** the KEY argument (ss-get, ss-set, ss-random), or the NODE of ss-get-all; null when the command has none */
  key: ScriptWord | null;
  /** ss-get-all's NAME */
  name: ScriptWord | null;
  /** ss-get --noblock: answers at once, never waits */
  noblock: boolean;
  /** ss-get --timeout N or --default V: gives up after a while instead of failing the recipe at the default 60 s */
  timeout: boolean;
}

/** Options that take a value, per command (both `--opt V` and `--opt=V`); every other option is a flag. */
const VALUE_OPTIONS: Record<SsCommand, ReadonlySet<string>> = {
  "ss-get": new Set(["--timeout", "--default"]),
  "ss-get-all": new Set(["--timeout"]),
  "ss-set": new Set(),
  "ss-display": new Set(),
  "ss-abort": new Set(),
  "ss-random": new Set(["-s", "--size"]),
};
/** After this many positionals everything is positional (as the agent's own parser does: `ss-set k -5`). */
const FREE_AFTER: Partial<Record<SsCommand, number>> = { "ss-set": 1, "ss-display": 0, "ss-abort": 0 };

/** Script lines joined where a line ends in an unquoted `\`, each with the number of its first line. */
function logicalLines(script: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  const raw = script.split(/\r?\n/);
  for (let i = 0; i < raw.length; i++) {
    const start = i;
    let text = raw[i];
    while (/(^|[^\\])(\\\\)*\\$/.test(text) && i + 1 < raw.length) text = text.slice(0, -1) + raw[++i];
    out.push({ text, line: start + 1 });
  }
  return out;
}

/** Where the `(` at `open` (of `$(`) closes, skipping quotes; the line's end when it does not. */
function closingParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === "\\") i++;
    else if (c === "'") i = s.indexOf("'", i + 1) < 0 ? s.length : s.indexOf("'", i + 1);
    else if (c === "(") depth++;
    else if (c === ")" && --depth === 0) return i;
  }
  return s.length;
}

const WORD_END = new Set([" ", "\t", ";", "&", "|", ")", "`", "<", ">"]);

/** Reads one shell word at `i`; null at a command's end. */
function readWord(s: string, start: number): { word: ScriptWord; next: number } | null {
  let i = start;
  while (s[i] === " " || s[i] === "\t") i++;
  if (i >= s.length || WORD_END.has(s[i]) || s[i] === "#") return null;
  let text = "";
  let literal = true;
  while (i < s.length && !WORD_END.has(s[i])) {
    const c = s[i];
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      text += s.slice(i + 1, end < 0 ? s.length : end);
      i = end < 0 ? s.length : end + 1;
    } else if (c === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === "\\" && i + 1 < s.length) {
          text += s[i + 1];
          i += 2;
        } else if (s[i] === "$" || s[i] === "`") {
          literal = false;
          text += s[i];
          i = s[i + 1] === "(" ? closingParen(s, i + 1) + 1 : i + 1;
        } else text += s[i++];
      }
      i++;
    } else if (c === "\\") {
      text += s[i + 1] ?? "";
      i += 2;
    } else if (c === "$") {
      literal = false;
      text += c;
      i = s[i + 1] === "(" ? closingParen(s, i + 1) + 1 : i + 1;
    } else {
      text += c;
      i++;
    }
  }
  return { word: { text, literal }, next: i };
}

/** The arguments of one command from `i` to its end, sorted into its key, name and options. */
function readCommand(command: SsCommand, s: string, i: number, line: number): { inv: SsInvocation; next: number } {
  const inv: SsInvocation = { command, line, key: null, name: null, noblock: false, timeout: false };
  const positionals: ScriptWord[] = [];
  const freeAfter = FREE_AFTER[command] ?? Number.POSITIVE_INFINITY;
  let at = i;
  for (let w = readWord(s, at); w; w = readWord(s, at)) {
    at = w.next;
    const text = w.word.text;
    if (positionals.length < freeAfter && text.startsWith("-") && text.length > 1 && !/^-\d/.test(text)) {
      if (text === "--") {
        freeAfterDashes(s, at, positionals);
        break;
      }
      const name = text.split("=")[0];
      if (name === "--noblock") inv.noblock = true;
      if (name === "--timeout" || name === "--default") inv.timeout = true;
      if (VALUE_OPTIONS[command].has(name) && !text.includes("=")) {
        const value = readWord(s, at);
        if (value) at = value.next;
      }
      continue;
    }
    positionals.push(w.word);
  }
  if (command === "ss-get" || command === "ss-set" || command === "ss-random" || command === "ss-get-all") {
    inv.key = positionals[0] ?? null;
  }
  if (command === "ss-get-all") inv.name = positionals[1] ?? null;
  return { inv, next: at };
}

function freeAfterDashes(s: string, at: number, positionals: ScriptWord[]): void {
  for (let w = readWord(s, at); w; w = readWord(s, w.next)) positionals.push(w.word);
}

const BEFORE_COMMAND = new Set([" ", "\t", ";", "&", "|", "(", "`", "{", "!", "="]);

/** Every ss-* command of a script, in the order of its text. */
export function scanScript(script: string): SsInvocation[] {
  const out: SsInvocation[] = [];
  for (const { text: s, line } of logicalLines(script)) {
    let quote: "'" | '"' | null = null;
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (quote === "'") {
        if (c === "'") quote = null;
        continue;
      }
      if (c === "\\") {
        i++;
        continue;
      }
      if (quote === '"') {
        if (c === '"') quote = null;
        // a substitution inside double quotes runs commands of its own: read on as outside quotes until it closes
        else if (c === "$" && s[i + 1] === "(") scanInto(out, s.slice(i + 2, closingParen(s, i + 1)), line);
        if (c === "$" && s[i + 1] === "(") i = closingParen(s, i + 1);
        continue;
      }
      if (c === "'" || c === '"') {
        quote = c;
        continue;
      }
      if (c === "#" && (i === 0 || BEFORE_COMMAND.has(s[i - 1]))) break;
      if (i > 0 && !BEFORE_COMMAND.has(s[i - 1]) && !(s[i - 1] === "(" || s[i - 1] === "`")) continue;
      const command = SS_COMMANDS.find(
        (cmd) => s.startsWith(cmd, i) && (i + cmd.length === s.length || /[\s;&|)`]/.test(s[i + cmd.length])),
      );
      if (!command) continue;
      const { inv, next } = readCommand(command, s, i + command.length, line);
      out.push(inv);
      i = next - 1;
    }
  }
  return out;
}

/** Scans the inside of a `$(…)` found within double quotes, on the line it is on. */
function scanInto(out: SsInvocation[], inner: string, line: number): void {
  for (const inv of scanScript(inner)) out.push({ ...inv, line: line + inv.line - 1 });
}
