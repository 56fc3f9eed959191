import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import path from "node:path";
import { processesWithEnv, signal, waitGone } from "./process-tree.js";

/**
 * Set in the agent's environment and so inherited by everything it starts, but not in slipstream.setenv:
 * stop finds the instance's processes by it without touching a person's shell that sourced that file.
 */
export const INSTANCE_TAG = "SLIPSTREAM_LOCAL_INSTANCE";

/** Variables of the server's environment an agent (and so a recipe) may see; secrets stay behind. */
const PASSED_ENV = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "LANG",
  "LANGUAGE",
  "LC_ALL",
  "LC_CTYPE",
  "TZ",
  "TERM",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
];

export function passedEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of PASSED_ENV) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return env;
}

/** Starts `argv` detached in `hostDir`, its output appended to `hostDir/agent.out`; returns its pid. */
export async function spawnAgent(argv: string[], env: Record<string, string>, hostDir: string): Promise<number> {
  const out = openSync(path.join(hostDir, "agent.out"), "a", 0o600);
  try {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: hostDir,
      env: env as NodeJS.ProcessEnv,
      detached: true,
      stdio: ["ignore", out, out],
    });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    });
    child.unref();
    return child.pid as number;
  } finally {
    closeSync(out);
  }
}

/** Leftovers of a first start in the same directory (a server restart while it was starting). */
export async function killLeftovers(hostDir: string): Promise<void> {
  const leftovers = (await processesWithEnv(`${INSTANCE_TAG}=${hostDir}`)) ?? [];
  for (const pid of leftovers) signal(pid, "SIGKILL");
  await waitGone(leftovers, 2000);
}

/**
 * Ends an instance's agent (`local-<pid>`, its process group) and every process tagged with its `hostDir`: SIGTERM,
 * then after `graceMs` SIGKILL to them and to whatever was started meanwhile.
 */
export async function killInstance(instanceId: string, hostDir: string, graceMs: number): Promise<void> {
  const pid = /^local-(\d+)$/.exec(instanceId)?.[1];
  const marker = `${INSTANCE_TAG}=${hostDir}`;
  const tagged = await processesWithEnv(marker);
  // after a restart the pid may belong to someone else by now: signal its group only if it is ours
  const agentGroup = pid && (tagged === null || tagged.includes(Number(pid))) ? [-Number(pid)] : [];
  const targets = [...agentGroup, ...(tagged ?? [])];
  for (const t of targets) signal(t, "SIGTERM");
  if (!(await waitGone(targets, graceMs))) {
    // recipes may have started more processes meanwhile
    for (const t of [...targets, ...((await processesWithEnv(marker)) ?? [])]) signal(t, "SIGKILL");
    await waitGone(targets, 2000);
  }
}
