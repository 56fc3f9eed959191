import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  dropKeysScript,
  envFile,
  keyMarker,
  launchAgentScript,
  parseFreeKiB,
  publicKeyCore,
  removeWorkspaceScript,
  safeAbsPath,
  safeName,
  shq,
} from "./remote-scripts.js";

const exec = promisify(execFile);
let home: string;

/** Runs a script with `sh` as the ssh login shell would, HOME a scratch directory. */
const sh = (script: string, stdin?: string) => {
  const p = exec("sh", ["-c", script], { env: { ...process.env, HOME: home } });
  if (stdin !== undefined) p.child.stdin?.end(stdin);
  return p;
};

beforeAll(async () => {
  home = await fs.mkdtemp(path.join(os.tmpdir(), "ss-remote-scripts-"));
});
afterAll(async () => {
  await fs.rm(home, { recursive: true, force: true });
});

describe("remote shell scripts", () => {
  it("shq quotes every string as one word, quotes included, and refuses NUL", async () => {
    for (const s of ["plain", "it's", "a b\tc", "$HOME `x` $(y)", "'", "", "new\nline"]) {
      const { stdout } = await sh(`printf '%s' ${shq(s)}`);
      expect(stdout).toBe(s);
    }
    expect(() => shq("a\0b")).toThrow("cannot contain NUL");
  });

  it("safeName and safeAbsPath accept only what can be used in a remote path", () => {
    expect(safeName("run id", "run-7.a_b")).toBe("run-7.a_b");
    for (const bad of ["", ".hidden", "a/b", "a b", "a..b", "x".repeat(129)]) {
      expect(() => safeName("run id", bad)).toThrow("cannot be used in a remote path");
    }
    expect(safeAbsPath("home", "/home/u/")).toBe("/home/u");
    expect(safeAbsPath("home", "/")).toBe("/");
    for (const bad of ["home/u", "/home/../etc", "/home/./u", "/home/u\n"]) {
      expect(() => safeAbsPath("home", bad)).toThrow("is not a clean absolute path");
    }
  });

  it("envFile is read back by `set -a; .` exactly, and refuses bad names", async () => {
    const env = { A: "it's $HOME", B_2: "two\nlines", C: "" };
    await fs.writeFile(path.join(home, "agent.env"), envFile(env));
    const { stdout } = await sh(`cd "$HOME"; set -a; . ./agent.env; set +a; printf '%s|%s|%s' "$A" "$B_2" "$C"`);
    expect(stdout).toBe("it's $HOME|two\nlines|");
    expect(() => envFile({ "A-B": "x" })).toThrow("bad environment variable name 'A-B'");
  });

  it("publicKeyCore keeps type and blob of an OpenSSH key line, nothing else", () => {
    expect(publicKeyCore("ssh-ed25519 AAAAC3Nza+/= me@host")).toBe("ssh-ed25519 AAAAC3Nza+/=");
    expect(publicKeyCore("  ecdsa-sha2-nistp256 AAAA  ")).toBe("ecdsa-sha2-nistp256 AAAA");
    expect(publicKeyCore('command="x" ssh-ed25519 AAAA')).toBeNull();
    expect(publicKeyCore("ssh-ed25519 AAAA\nssh-rsa BBBB")).toBeNull();
  });

  it("dropKeysScript removes the lines of one instance's marker and keeps every other line", async () => {
    await fs.mkdir(path.join(home, ".ssh"), { recursive: true });
    const keys = path.join(home, ".ssh", "authorized_keys");
    const mine = keyMarker("run-1", "web.1");
    await fs.writeFile(
      keys,
      `ssh-ed25519 AAAA owner\nssh-ed25519 BBBB ${mine}\nssh-rsa CCCC ${keyMarker("run-1", "web.2")}\n`,
    );
    await sh(dropKeysScript(mine));
    expect(await fs.readFile(keys, "utf8")).toBe(
      `ssh-ed25519 AAAA owner\nssh-rsa CCCC ${keyMarker("run-1", "web.2")}\n`,
    );
  });

  it("removeWorkspaceScript removes the workspace, then the run directory and ~/.slipstream once empty", async () => {
    const ws = (i: string) => path.join(home, ".slipstream", "run-1", i);
    await fs.mkdir(path.join(ws("a.1"), ".agent"), { recursive: true });
    await fs.mkdir(ws("a.2"), { recursive: true });
    await sh(removeWorkspaceScript(ws("a.1")));
    expect(await fs.readdir(path.join(home, ".slipstream", "run-1"))).toEqual(["a.2"]);
    await sh(removeWorkspaceScript(ws("a.2")));
    await expect(fs.stat(path.join(home, ".slipstream"))).rejects.toThrow();
  });

  it("launchAgentScript reports an agent that died at once with its output and exit 3", async () => {
    const ws = path.join(home, "launch");
    await fs.mkdir(path.join(ws, ".agent"), { recursive: true });
    await fs.writeFile(path.join(ws, "agent.env"), envFile({ X: "1" }));
    await fs.writeFile(
      path.join(ws, ".agent", "agent.mjs"),
      `console.error("bad agent " + process.env.X); process.exit(2);`,
    );
    const r = await sh(launchAgentScript(ws)).catch((err: { code: number; stderr: string }) => err);
    expect(r).toMatchObject({ code: 3, stderr: expect.stringContaining("bad agent 1") });
    await expect(fs.stat(path.join(ws, "agent.env"))).rejects.toThrow();
  });

  it("parseFreeKiB reads df -Pk's available column", () => {
    const df = "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 1000 400 600 40% /\n";
    expect(parseFreeKiB(df)).toBe(600);
    expect(parseFreeKiB("")).toBeNull();
    expect(parseFreeKiB("df: nonsense")).toBeNull();
  });
});
