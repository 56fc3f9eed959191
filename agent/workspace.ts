import { existsSync } from "node:fs";
import { chmod, copyFile, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { AgentConfig } from "./config.js";
import { FAST_ENV, fastWrapper } from "./fast-ipc.js";
import { IPC_ENV, ipcSocketPath } from "./ipc-address.js";

const SS_COMMANDS = [
  "ss-get",
  "ss-set",
  "ss-display",
  "ss-abort",
  "ss-random",
  "ss-get-all",
  "ss-node-add",
  "ss-node-remove",
] as const;

export interface Workspace {
  root: string;
  bin: string;
  tmp: string;
  targets: string;
  reports: string;
  log: string;
  socket: string;
  /** "PORT KEY" of the agent's loopback listener for the bash wrappers (fast-ipc.ts) */
  endpoint: string;
  setenv: string;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function workspaceLayout(root: string): Workspace {
  return {
    root,
    bin: path.join(root, "bin"),
    tmp: path.join(root, "tmp"),
    targets: path.join(root, "targets"),
    reports: path.join(root, "reports"),
    log: path.join(root, "slipstream.log"),
    socket: ipcSocketPath(root),
    endpoint: path.join(root, "lib", "ss.endpoint"),
    setenv: path.join(root, "slipstream.setenv"),
  };
}

/** The variables every script sees (and a person who sources slipstream.setenv), PATH aside. */
function instanceVariables(cfg: AgentConfig, ws: Workspace): Record<string, string> {
  return {
    SLIPSTREAM_DIID: cfg.runId,
    SLIPSTREAM_NODE_INSTANCE_NAME: cfg.instance,
    SLIPSTREAM_SERVICEURL: cfg.serviceUrl,
    SLIPSTREAM_CLOUD: cfg.cloud,
    SLIPSTREAM_WORKSPACE: ws.root,
    [IPC_ENV]: ws.socket,
    [FAST_ENV]: ws.endpoint,
    TMPDIR: ws.tmp,
  };
}

/** The ss client next to this bundle, or the one named by SLIPSTREAM_SS_CLIENT (runs from source). */
function locateSsClient(cfg: AgentConfig): string {
  const candidate = cfg.ssClient ?? path.join(path.dirname(fileURLToPath(import.meta.url)), "ss.mjs");
  if (!existsSync(candidate)) {
    throw new Error(
      `ss client not found at ${candidate} (build with scripts/build-agent.ts or set SLIPSTREAM_SS_CLIENT)`,
    );
  }
  return candidate;
}

/** bash with /dev/tcp runs the fast wrappers; where there is none, the wrappers exec Node. */
const BASH_CANDIDATES = ["/bin/bash", "/usr/bin/bash", "/usr/local/bin/bash"];

/** Creates the workspace: directories, the ss-* wrappers and slipstream.setenv. */
export async function prepareWorkspace(cfg: AgentConfig): Promise<Workspace> {
  const ws = workspaceLayout(cfg.workspace);
  for (const dir of [ws.root, ws.bin, ws.tmp, ws.targets, ws.reports, path.join(ws.root, "lib")]) {
    await mkdir(dir, { recursive: true });
  }
  // a copy, so the workspace keeps working for a person logged in after the bundle directory is gone
  const ss = path.join(ws.root, "lib", "ss.mjs");
  await copyFile(locateSsClient(cfg), ss);
  const bash = BASH_CANDIDATES.find((p) => existsSync(p));
  for (const command of SS_COMMANDS) {
    const wrapper = path.join(ws.bin, command);
    const viaNode = `exec ${cfg.nodeCommand.map(shellQuote).join(" ")} ${shellQuote(ss)} ${command} "$@"`;
    await writeFile(wrapper, bash ? fastWrapper(bash, command, viaNode) : `#!/bin/sh\n${viaNode}\n`, { mode: 0o755 });
    await chmod(wrapper, 0o755);
  }
  const exports = Object.entries(instanceVariables(cfg, ws)).map(([k, v]) => `export ${k}=${shellQuote(v)}`);
  await writeFile(
    ws.setenv,
    [
      `# SlipStream environment of ${cfg.instance} (run ${cfg.runId}).`,
      "# `source` this file to get the environment of the recipes, with the ss-* commands on PATH.",
      ...exports,
      `export PATH=${shellQuote(ws.bin)}:"$PATH"`,
      "",
    ].join("\n"),
  );
  return ws;
}

/** Process env for scripts: ours without the agent's secrets, plus the instance variables. */
export function scriptEnv(cfg: AgentConfig, ws: Workspace): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of [
    "SLIPSTREAM_AGENT_TOKEN",
    "SLIPSTREAM_SS_CLIENT",
    "SLIPSTREAM_KILL_GRACE",
    "SLIPSTREAM_SERVER_WAIT",
    "SLIPSTREAM_SANDBOX",
    "SLIPSTREAM_NODE_COMMAND",
  ]) {
    delete env[k];
  }
  return { ...env, ...instanceVariables(cfg, ws), PATH: `${ws.bin}:${process.env.PATH ?? "/usr/bin:/bin"}` };
}
