/** A command-line mistake: the ss-* command prints it with its usage line and exits 2. */
export class UsageError extends Error {}

export type OptionSpec = Record<string, { type: "boolean" | "string"; short?: string }>;

interface ParsedArgs {
  options: Record<string, string | boolean>;
  positionals: string[];
  help: boolean;
}

/**
 * Parses `--name value`, `--name=value`, `-s value`, `-sVALUE`, options anywhere before `--`.
 * After `freeAfter` positionals everything is positional, so `ss-set key -5` and messages that start
 * with a dash work without `--`. `-5` (a negative number) is a positional.
 */
export function parseArgs(argv: readonly string[], spec: OptionSpec, freeAfter = Number.POSITIVE_INFINITY): ParsedArgs {
  const options: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  let help = false;
  const byShort = new Map(Object.entries(spec).flatMap(([name, o]) => (o.short ? [[o.short, name] as const] : [])));

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (positionals.length >= freeAfter) {
      positionals.push(arg);
      continue;
    }
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "--help" || arg === "-h") {
      help = true;
      continue;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
      if (!spec[name]) throw new UsageError(`unknown option '--${name}'`);
    } else if (arg.length > 1 && arg.startsWith("-") && !/^-\d/.test(arg)) {
      name = byShort.get(arg[1]);
      if (!name) throw new UsageError(`unknown option '${arg.slice(0, 2)}'`);
      inline = arg.length > 2 ? arg.slice(2) : undefined;
    } else {
      positionals.push(arg);
      continue;
    }
    const label = arg.startsWith("--") ? `--${name}` : `-${spec[name].short}`;
    if (spec[name].type === "boolean") {
      if (inline !== undefined) throw new UsageError(`option '${label}' takes no value`);
      options[name] = true;
    } else if (inline !== undefined) {
      options[name] = inline;
    } else {
      if (i + 1 >= argv.length) throw new UsageError(`option '${label}' needs a value`);
      options[name] = argv[++i];
    }
  }
  return { options, positionals, help };
}
