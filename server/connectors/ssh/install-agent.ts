/**
 * Installing an agent on a host over an open connection: probe Node → prepare the workspace → upload the bundle and
 * the launch environment → add the run owner's keys → launch. A failed install is undone; `removeAgent` is stop's.
 */
import fs from "node:fs";
import path from "node:path";
import type { Client } from "ssh2";
import { agentEnv } from "../agent-env.js";
import type { InstanceLaunch } from "../types.js";
import { execRemote, type SshHost, sftpOf, sftpPut, sftpWrite } from "./client.js";
import { hostError } from "./exec-error.js";
import {
  APPEND_KEYS_SCRIPT,
  dropKeysScript,
  envFile,
  freeSpaceScript,
  keyMarker,
  killScript,
  launchAgentScript,
  mkdirScript,
  PROBE_NODE_SCRIPT,
  parseFreeKiB,
  publicKeyCore,
  removeWorkspaceScript,
  safeAbsPath,
} from "./remote-scripts.js";

/** Set in the agent's environment (not in slipstream.setenv): stop finds every process of the instance by it. */
const SSH_INSTANCE_TAG = "SLIPSTREAM_SSH_INSTANCE";
const MIN_NODE = 20;
const DISK_FULL = /no space left|ENOSPC|disk quota exceeded|EDQUOT|file too large/i;

interface InstallOptions {
  /** directory holding agent.mjs and ss.mjs */
  bundleDir: string;
  /** the server's URL as the hosts reach it, when it differs from `launch.serviceUrl` */
  agentServiceUrl?: string;
  /** given to the agent for its recipes, when set */
  killGraceSeconds?: number;
  /** seconds between SIGTERM and SIGKILL when a failed install is undone */
  graceSeconds: number;
  /** OpenSSH public keys to let into the machine */
  authorizedKeys: string[];
}

interface InstalledAgent {
  workspace: string;
  pid: number;
}

/** The instance's process tag: every process started in `workspace` carries it in its environment. */
function tagOf(workspace: string): string {
  return `${SSH_INSTANCE_TAG}=${workspace}`;
}

function diskCause(cause: string): string {
  return DISK_FULL.test(cause) ? `the disk is full (${cause})` : cause;
}

/** The login user's home directory; fails unless Node ≥ MIN_NODE is on the PATH. */
async function probeNode(c: Client, h: SshHost): Promise<string> {
  const probe = await execRemote(c, PROBE_NODE_SCRIPT);
  const [home = "", version = ""] = probe.stdout.split("\n").map((l) => l.trim());
  const major = /^v(\d+)\./.exec(version)?.[1];
  if (!major || Number(major) < MIN_NODE) {
    throw hostError(
      h,
      `Node ≥ ${MIN_NODE} is required (found ${version && version !== "none" ? version : "no node on PATH"})`,
      { command: PROBE_NODE_SCRIPT, exitCode: probe.code, stderr: probe.stderr },
    );
  }
  return home;
}

/** Creates `workspace/.agent`, private to the login user. */
async function prepareWorkspace(c: Client, h: SshHost, workspace: string): Promise<void> {
  const command = mkdirScript(`${workspace}/.agent`);
  const mk = await execRemote(c, command);
  if (mk.code !== 0) {
    const cause = mk.stderr.trim();
    throw hostError(h, `cannot create ${workspace}: ${diskCause(cause)}`, {
      command,
      exitCode: mk.code,
      stderr: mk.stderr,
    });
  }
}

/** Free KiB in `dir`'s file system, or null when df is missing or says something else. */
async function freeKiB(c: Client, dir: string): Promise<number | null> {
  const r = await execRemote(c, freeSpaceScript(dir)).catch(() => null);
  return r?.code === 0 ? parseFreeKiB(r.stdout) : null;
}

/** KiB the files take on the host, each rounded up to 4 KiB blocks. */
function neededKiB(sizes: number[]): number {
  return sizes.reduce((sum, n) => sum + Math.max(1, Math.ceil(n / 4096)) * 4, 0);
}

/** Uploads agent.mjs and ss.mjs into `workspace/.agent` and the launch environment to `workspace/agent.env`. */
async function uploadBundle(
  c: Client,
  h: SshHost,
  workspace: string,
  bundleDir: string,
  envText: string,
): Promise<void> {
  const files = ["agent.mjs", "ss.mjs"].map((f) => path.join(bundleDir, f));
  const needed = neededKiB([...files.map((f) => fs.statSync(f).size), Buffer.byteLength(envText)]);
  const before = await freeKiB(c, workspace);
  if (before !== null && before < needed) {
    throw hostError(h, `not enough free disk space in ${workspace} (${before} KiB free, bundle needs ${needed} KiB)`);
  }
  const sftp = await sftpOf(c).catch((err: Error) => {
    throw hostError(h, `cannot open SFTP: ${err.message}`);
  });
  try {
    await sftpPut(sftp, files[0], `${workspace}/.agent/agent.mjs`, 0o600);
    await sftpPut(sftp, files[1], `${workspace}/.agent/ss.mjs`, 0o600);
    await sftpWrite(sftp, `${workspace}/agent.env`, envText, 0o600);
  } catch (err) {
    const message = (err as Error).message;
    // SFTP reports a full disk as a bare "Failure": ask the host how much room is left
    const after = DISK_FULL.test(message) ? 0 : await freeKiB(c, workspace);
    if (after !== null && after < needed) {
      throw hostError(
        h,
        `upload to ${workspace} failed: the disk is full (${after} KiB free, bundle needs ${needed} KiB)`,
      );
    }
    throw hostError(h, `upload to ${workspace} failed: ${message}`);
  } finally {
    sftp.end();
  }
}

/** Appends `keys` (authorized_keys lines ending with the instance's marker) to the login user's authorized_keys. */
async function addAuthorizedKeys(c: Client, h: SshHost, lines: string[]): Promise<void> {
  const added = await execRemote(c, APPEND_KEYS_SCRIPT, lines.join(""));
  if (added.code !== 0) {
    const cause = added.stderr.trim();
    throw hostError(h, `cannot add keys to authorized_keys: ${diskCause(cause)}`, {
      command: APPEND_KEYS_SCRIPT,
      exitCode: added.code,
      stderr: added.stderr,
    });
  }
}

/** Starts the uploaded agent in its own session; its pid. */
async function launchAgent(c: Client, h: SshHost, workspace: string): Promise<number> {
  const command = launchAgentScript(workspace);
  const launched = await execRemote(c, command);
  const pid = Number(launched.stdout.trim());
  if (launched.code !== 0 || !Number.isInteger(pid) || pid <= 0) {
    throw hostError(h, `the agent did not start: ${(launched.stderr || launched.stdout).trim() || "no output"}`, {
      command,
      exitCode: launched.code,
      stderr: launched.stderr,
    });
  }
  return pid;
}

/** Best effort after a failed start: kill what was started, remove the workspace and the keys added. */
async function undoInstall(
  c: Client,
  workspace: string | undefined,
  marker: string | undefined,
  graceSeconds: number,
): Promise<void> {
  const script = [
    ...(workspace ? [killScript(tagOf(workspace), 0, graceSeconds), removeWorkspaceScript(workspace)] : []),
    ...(marker ? [dropKeysScript(marker)] : []),
  ];
  if (script.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    execRemote(c, script.join("\n")).catch(() => undefined),
    new Promise((resolve) => {
      timer = setTimeout(resolve, 15_000 + graceSeconds * 1000);
    }),
  ]);
  clearTimeout(timer);
}

/**
 * Installs and launches the agent of `launch` (run id and instance already checked with `safeName`) on `h`; a
 * failure is undone (no machine id is recorded for a failed start, so stop never sees it) and rethrown.
 */
export async function installAgent(
  c: Client,
  h: SshHost,
  launch: InstanceLaunch,
  opts: InstallOptions,
): Promise<InstalledAgent> {
  // what this install created so far, undone if it fails
  let created: string | undefined;
  let keysMarker: string | undefined;
  try {
    const home = await probeNode(c, h);
    const workspace = `${safeAbsPath("home directory", home)}/.slipstream/${launch.runId}/${launch.instance}`;
    created = workspace;
    await prepareWorkspace(c, h, workspace);

    const env = {
      ...agentEnv(launch, {
        workspace,
        serviceUrl: opts.agentServiceUrl,
        killGraceSeconds: opts.killGraceSeconds,
      }),
      [SSH_INSTANCE_TAG]: workspace,
    };
    await uploadBundle(c, h, workspace, opts.bundleDir, envFile(env));

    const marker = keyMarker(launch.runId, launch.instance);
    const lines = opts.authorizedKeys.flatMap((k) => {
      const core = publicKeyCore(k);
      return core ? [`${core} ${marker}\n`] : [];
    });
    if (lines.length > 0) {
      keysMarker = marker;
      await addAuthorizedKeys(c, h, lines);
    }

    return { workspace, pid: await launchAgent(c, h, workspace) };
  } catch (err) {
    await undoInstall(c, created, keysMarker, opts.graceSeconds).catch(() => undefined);
    throw err;
  }
}

/** Stops an instance's agent and everything it started; unless `keep`, removes its workspace and keys too. */
export async function removeAgent(
  c: Client,
  target: { workspace: string; pid: number; marker: string },
  keep: boolean,
  graceSeconds: number,
): Promise<void> {
  await execRemote(c, killScript(tagOf(target.workspace), target.pid, graceSeconds));
  if (!keep) {
    await execRemote(c, removeWorkspaceScript(target.workspace));
    await execRemote(c, dropKeysScript(target.marker));
  }
}
