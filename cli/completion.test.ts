import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { buildProgram } from "./program.js";
import { cli, tempDir } from "./testing.js";

const exec = promisify(execFile);
const env = { url: "http://127.0.0.1:9", configDir: "/nonexistent" };

/** What bash offers after `words` (the last one being completed), with the script sourced as a user would. */
async function complete(script: string, words: string[]): Promise<string[]> {
  const dir = await tempDir("completion");
  const file = path.join(dir, "slipstream.bash");
  await fs.writeFile(file, script);
  const array = words.map((w) => `'${w}'`).join(" ");
  const { stdout } = await exec("bash", [
    "-c",
    `source "$1"; COMP_WORDS=(${array}); COMP_CWORD=${words.length - 1}; _slipstream_complete; printf '%s\\n' "\${COMPREPLY[@]}"`,
    "bash",
    file,
  ]);
  return stdout.split("\n").filter(Boolean);
}

describe("slipstream completion", () => {
  const program = buildProgram();
  const commands = program.commands.map((c) => c.name());

  it("bash: the script of the real CLI completes the real commands, subcommands and options", async () => {
    const r = await cli(["completion", "bash"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(commands).toEqual(expect.arrayContaining(["login", "modules", "run", "runs", "status", "completion"]));
    expect((await complete(r.stdout, ["slipstream", ""])).filter((w) => !w.startsWith("-")).sort()).toEqual(
      [...commands, "help"].sort(),
    );
    expect(await complete(r.stdout, ["slipstream", "ru"])).toEqual(["run", "runs"]);
    const modules = program.commands.find((c) => c.name() === "modules")!;
    expect((await complete(r.stdout, ["slipstream", "modules", ""])).filter((w) => !w.startsWith("-"))).toEqual([
      ...modules.commands.map((c) => c.name()),
      "help",
    ]);
    // an option and its value before the command do not hide it; the command's own options are offered
    const run = program.commands.find((c) => c.name() === "run")!;
    expect(await complete(r.stdout, ["slipstream", "--url", "http://x", "run", "--"])).toEqual(
      expect.arrayContaining(run.options.map((o) => o.long!)),
    );
    expect(await complete(r.stdout, ["slipstream", "run", "--mult"])).toEqual(["--multiplicity"]);
  });

  it("zsh and fish: every command and option of the tree is in the script", async () => {
    const zsh = await cli(["completion", "zsh"], env);
    expect(zsh.code).toBe(0);
    expect(zsh.stdout).toMatch(/^#compdef slipstream\n/);
    expect(zsh.stdout).toContain("bashcompinit");
    const fish = await cli(["completion", "fish"], env);
    expect(fish.code).toBe(0);
    for (const name of commands) {
      expect(zsh.stdout).toMatch(new RegExp(`children='[^']*\\b${name}\\b`));
      expect(fish.stdout).toContain(`-n '__fish_use_subcommand' -a ${name} `);
    }
    expect(fish.stdout).toContain(
      "-n '__fish_seen_subcommand_from modules; and not __fish_seen_subcommand_from push pull list mv rm history restore help' -a push",
    );
    expect(fish.stdout).toContain("-n '__fish_seen_subcommand_from run' -l multiplicity");
  });

  it("refuses another shell, naming the choices", async () => {
    const r = await cli(["completion", "tcsh"], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("bash, zsh, fish");
  });
});
