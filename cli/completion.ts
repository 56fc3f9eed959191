import type { Command } from "commander";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** One command of the tree: its path from the root (`["modules", "push"]`), subcommands and options. */
interface Node {
  path: string[];
  description: string;
  subcommands: { name: string; description: string }[];
  options: { flags: string[]; description: string }[];
}

/** Every command of the program, depth first, read from commander's own tree (so it is never out of date). */
function walk(cmd: Command, path: string[] = []): Node[] {
  const subs = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
  const names = (c: Command) => [c.name(), ...c.aliases()];
  const node: Node = {
    path,
    description: cmd.description(),
    subcommands: [
      ...subs.flatMap((c) => names(c).map((name) => ({ name, description: c.description() }))),
      ...(subs.length > 0 ? [{ name: "help", description: "display help for a command" }] : []),
    ],
    options: [
      ...cmd.options.map((o) => ({
        flags: [o.long, o.short].filter((f): f is string => !!f),
        description: o.description,
      })),
      { flags: ["--help", "-h"], description: "display help" },
    ],
  };
  return [node, ...subs.flatMap((c) => walk(c, [...path, c.name()]))];
}

const words = (list: string[]) => list.join(" ");
/** single-quoted for every shell we write: `'` closes, is escaped, reopens */
const quoted = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
/** the commands' names are words of the tree: nothing a shell would read as syntax */
const safeName = (s: string) => {
  if (!/^[\w-]+$/.test(s)) throw new Error(`command name ${JSON.stringify(s)} cannot be completed`);
  return s;
};

/**
 * bash (and zsh through bashcompinit): the words typed so far, options skipped, name the deepest command; its
 * subcommands and options are offered. An option's value (a word after an option that takes one) is left to the
 * default completion of file names.
 */
function bash(root: Command, nodes: Node[]): string {
  const name = safeName(root.name());
  const fn = `_${name.replace(/-/g, "_")}_complete`;
  const cases = nodes
    .map((n) => {
      const key = n.path.map(safeName).join(" ");
      const offer = words([...n.subcommands.map((s) => s.name), ...n.options.flatMap((o) => o.flags)]);
      const children = n.subcommands.map((s) => safeName(s.name));
      return `    ${quoted(key)}) candidates=${quoted(offer)}; children=${quoted(words(children))} ;;`;
    })
    .join("\n");
  return `# ${name} completion for bash: source it, or save it as /etc/bash_completion.d/${name}
${fn}_node() {
  case "$1" in
${cases}
  esac
}
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" candidates="" children="" i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    ${fn}_node "$path"
    if [[ " $children " == *" $w "* ]]; then path="\${path:+$path }$w"; fi
  done
  ${fn}_node "$path"
  COMPREPLY=($(compgen -W "$candidates" -- "$cur"))
}
complete -o default -F ${fn} ${name}
`;
}

function zsh(root: Command, nodes: Node[]): string {
  const name = safeName(root.name());
  return `#compdef ${name}
# ${name} completion for zsh: save it as _${name} in a directory of $fpath, or source it after compinit
autoload -U +X bashcompinit && bashcompinit
${bash(root, nodes)}`;
}

function fish(root: Command, nodes: Node[]): string {
  const name = safeName(root.name());
  const lines = [`# ${name} completion for fish: save it as ~/.config/fish/completions/${name}.fish`];
  lines.push(`complete -c ${name} -f`);
  for (const n of nodes) {
    // the command's path is typed and none of its subcommands yet
    const children = words(n.subcommands.map((s) => safeName(s.name)));
    const here =
      n.path.length === 0
        ? "__fish_use_subcommand"
        : `__fish_seen_subcommand_from ${safeName(n.path.at(-1)!)}${children ? `; and not __fish_seen_subcommand_from ${children}` : ""}`;
    for (const s of n.subcommands) {
      lines.push(`complete -c ${name} -n ${quoted(here)} -a ${safeName(s.name)} -d ${quoted(s.description)}`);
    }
    for (const o of n.options) {
      const flags = o.flags
        .map((f) => (f.startsWith("--") ? `-l ${safeName(f.slice(2))}` : `-s ${safeName(f.slice(1))}`))
        .join(" ");
      lines.push(`complete -c ${name} -n ${quoted(here)} ${flags} -d ${quoted(o.description)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** The completion script of `program` for `shell`. */
export function completionScript(program: Command, shell: Shell): string {
  const nodes = walk(program);
  return shell === "bash" ? bash(program, nodes) : shell === "zsh" ? zsh(program, nodes) : fish(program, nodes);
}
