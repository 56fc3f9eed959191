import { existsSync } from "node:fs";
import { chmod, copyFile, lchown, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
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
  /** a path of the workspace as the recipes see it (their machine may show the workspace elsewhere than the agent) */
  view: (hostPath: string) => string;
  /** the IPC socket as the recipes see it */
  recipeSocket: string;
  /** gives a file or directory the agent made to the recipes' uid, where they run as another than the agent */
  own: (hostPath: string) => Promise<void>;
  /** removes what the workspace needed outside itself (a link for a socket path too long to bind) */
  dispose: () => Promise<void>;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function workspaceLayout(root: string): Omit<Workspace, "view" | "recipeSocket" | "own" | "dispose"> {
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

function plainLayout(root: string): Workspace {
  const ws = workspaceLayout(root);
  const none = async () => undefined;
  return { ...ws, view: (p) => p, recipeSocket: ws.socket, own: none, dispose: none };
}

/** sun_path's limit (ipc-address.ts): a longer socket path is bound through a short private link to its directory */
const MAX_SOCKET_PATH = 100;

/**
 * A workspace a host process serves (agent/host.ts): the host reaches it at `hostRoot`, its recipes at `machineRoot`
 * (their machine binds it there). The socket the host listens on stays in the workspace, where the recipes find it.
 */
async function hostedLayout(hostRoot: string, machineRoot: string, owner?: number): Promise<Workspace> {
  const ws = workspaceLayout(hostRoot);
  const inWorkspace = path.join(hostRoot, ".ss.sock");
  let socket = inWorkspace;
  let linkDir: string | null = null;
  if (Buffer.byteLength(inWorkspace) > MAX_SOCKET_PATH) {
    // bind() follows a symlinked directory: a private one (0700, made here) keeps others from swapping the link
    linkDir = await mkdtemp(path.join(os.tmpdir(), "ss-ws-"));
    await symlink(hostRoot, path.join(linkDir, "w"));
    socket = path.join(linkDir, "w", ".ss.sock");
  }
  const view = (p: string) =>
    p === hostRoot || p.startsWith(`${hostRoot}/`) ? machineRoot + p.slice(hostRoot.length) : p;
  // never through a link the recipes left: lchown changes the link itself
  const own = async (p: string) => (owner === undefined ? undefined : lchown(p, owner, owner));
  const dispose = async () => {
    if (linkDir) await rm(linkDir, { recursive: true, force: true });
  };
  return { ...ws, socket, view, recipeSocket: view(inWorkspace), own, dispose };
}

/** The variables every script sees (and a person who sources slipstream.setenv), PATH aside. */
function instanceVariables(cfg: AgentConfig, ws: Workspace): Record<string, string> {
  return {
    SLIPSTREAM_DIID: cfg.runId,
    SLIPSTREAM_NODE_INSTANCE_NAME: cfg.instance,
    SLIPSTREAM_SERVICEURL: cfg.machineServiceUrl ?? cfg.serviceUrl,
    SLIPSTREAM_CLOUD: cfg.cloud,
    SLIPSTREAM_WORKSPACE: ws.view(ws.root),
    [IPC_ENV]: ws.recipeSocket,
    [FAST_ENV]: ws.view(ws.endpoint),
    TMPDIR: ws.view(ws.tmp),
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
  const ws = cfg.hostWorkspace
    ? await hostedLayout(cfg.hostWorkspace, cfg.workspace, cfg.owner)
    : plainLayout(cfg.workspace);
  for (const dir of [ws.root, ws.bin, ws.tmp, ws.targets, ws.reports, path.join(ws.root, "lib")]) {
    await mkdir(dir, { recursive: true });
  }
  // the recipes write here; bin, lib, targets and reports stay the agent's (what it writes, no recipe can redirect)
  await ws.own(ws.tmp);
  // a copy (or a link to the host's one), so the workspace keeps working for a person logged in after the bundle
  // directory is gone
  const ss = path.join(ws.root, "lib", "ss.mjs");
  if (cfg.sharedFiles) await cfg.sharedFiles.placeCopyOf(ss, locateSsClient(cfg), 0o644);
  else await copyFile(locateSsClient(cfg), ss);
  const bash = BASH_CANDIDATES.find((p) => existsSync(p));
  for (const command of SS_COMMANDS) {
    const wrapper = path.join(ws.bin, command);
    const viaNode = `exec ${cfg.nodeCommand.map(shellQuote).join(" ")} ${shellQuote(ws.view(ss))} ${command} "$@"`;
    const text = bash ? fastWrapper(bash, command, viaNode) : `#!/bin/sh\n${viaNode}\n`;
    if (cfg.sharedFiles) await cfg.sharedFiles.place(wrapper, text, 0o755);
    else {
      await writeFile(wrapper, text, { mode: 0o755 });
      await chmod(wrapper, 0o755);
    }
  }
  const exports = Object.entries(instanceVariables(cfg, ws)).map(([k, v]) => `export ${k}=${shellQuote(v)}`);
  await writeFile(
    ws.setenv,
    [
      `# SlipStream environment of ${cfg.instance} (run ${cfg.runId}).`,
      "# `source` this file to get the environment of the recipes, with the ss-* commands on PATH.",
      ...exports,
      `export PATH=${shellQuote(ws.view(ws.bin))}:"$PATH"`,
      "",
    ].join("\n"),
  );
  return ws;
}

/** Process env for scripts: ours without the agent's secrets, plus the instance variables. */
export function scriptEnv(cfg: AgentConfig, ws: Workspace): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...cfg.env };
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
  return { ...env, ...instanceVariables(cfg, ws), PATH: `${ws.view(ws.bin)}:${cfg.env.PATH ?? "/usr/bin:/bin"}` };
}
