import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, rm, rmdir } from "node:fs/promises";
import path from "node:path";
import { processesWithEnv, signal, waitGone } from "./process-tree.js";
import type { Connector, InstanceLaunch, StartedInstance, StopTarget } from "./types.js";

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

const DEFAULT_STOP_GRACE_SECONDS = 3;

/**
 * Set in the agent's environment and so inherited by everything it starts, but not in slipstream.setenv:
 * stop finds the instance's processes by it without touching a person's shell that sourced that file.
 */
const TAG = "SLIPSTREAM_LOCAL_INSTANCE";

export interface LocalConnectorOptions {
  dataDir: string;
  /** directory holding agent.mjs and ss.mjs (scripts/build-agent.ts) */
  bundleDir: string;
  /** seconds between SIGTERM and SIGKILL, for the agent's recipes and for stop */
  killGraceSeconds?: number;
}

/** The embedded cloud: each instance is an agent process on this machine with its own workspace. */
export function createLocalConnector(opts: LocalConnectorOptions): Connector {
  const instancesRoot = path.resolve(opts.dataDir, "instances");
  const graceMs = (opts.killGraceSeconds ?? DEFAULT_STOP_GRACE_SECONDS) * 1000;

  return {
    kind: "local",

    async start(launch: InstanceLaunch): Promise<StartedInstance> {
      const workspace = path.join(instancesRoot, launch.runId, launch.instance);
      const fresh = (await mkdir(workspace, { recursive: true })) !== undefined;
      if (!fresh) {
        // started again (a server restart while it was starting): the first agent, refused now, must not linger
        // beside the new one in the same workspace
        const leftovers = (await processesWithEnv(`${TAG}=${workspace}`)) ?? [];
        for (const pid of leftovers) signal(pid, "SIGKILL");
        await waitGone(leftovers, 2000);
      }
      const env: Record<string, string> = {};
      for (const k of PASSED_ENV) {
        const v = process.env[k];
        if (v !== undefined) env[k] = v;
      }
      Object.assign(env, {
        SLIPSTREAM_SERVICEURL: launch.serviceUrl,
        SLIPSTREAM_AGENT_TOKEN: launch.token,
        SLIPSTREAM_DIID: launch.runId,
        SLIPSTREAM_NODE_INSTANCE_NAME: launch.instance,
        SLIPSTREAM_CLOUD: launch.cloud,
        SLIPSTREAM_WORKSPACE: workspace,
        SLIPSTREAM_SS_CLIENT: path.join(opts.bundleDir, "ss.mjs"),
        [TAG]: workspace,
      });
      if (opts.killGraceSeconds !== undefined) env.SLIPSTREAM_KILL_GRACE = String(opts.killGraceSeconds);

      const out = openSync(path.join(workspace, "agent.out"), "a");
      try {
        const child = spawn(process.execPath, [path.join(opts.bundleDir, "agent.mjs")], {
          cwd: workspace,
          env: env as NodeJS.ProcessEnv,
          detached: true,
          stdio: ["ignore", out, out],
        });
        await new Promise<void>((resolve, reject) => {
          child.once("spawn", resolve);
          child.once("error", reject);
        });
        child.unref();
        return { instanceId: `local-${child.pid}`, hostname: "127.0.0.1", workspace };
      } finally {
        closeSync(out);
      }
    },

    async stop(instance: StopTarget, { keep }: { keep: boolean }): Promise<void> {
      const pid = /^local-(\d+)$/.exec(instance.instanceId)?.[1];
      const workspace = path.resolve(instance.workspace);
      const marker = `${TAG}=${workspace}`;
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
      // only ever delete what this connector created
      if (!keep && workspace.startsWith(`${instancesRoot}${path.sep}`)) {
        await rm(workspace, { recursive: true, force: true });
        await rmdir(path.dirname(workspace)).catch(() => undefined);
      }
    },
  };
}
