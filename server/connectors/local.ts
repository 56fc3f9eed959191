import { spawn } from "node:child_process";
import { chmodSync, closeSync, mkdirSync, openSync, readdirSync, statSync } from "node:fs";
import { chmod, chown, mkdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import type { Socket } from "node:net";
import os from "node:os";
import path from "node:path";
import {
  enterMachineFlags,
  MACHINE_PID_FILE,
  SANDBOX_AGENT_DIR,
  SANDBOX_WORKSPACE,
  type SandboxMount,
  type SandboxSpec,
  sandboxHostname,
} from "../../protocol/sandbox.js";
import { agentEnv } from "./agent-env.js";
import { processesWithEnv, signal, waitGone } from "./process-tree.js";
import type { InstanceLimits } from "./sandbox/cgroups.js";
import { DEFAULT_LIMITS, detectIsolation, findOnPath, type Isolation } from "./sandbox/isolation.js";
import { InstanceNetwork } from "./sandbox/network.js";
import { agentBwrapArgs, systemMounts } from "./sandbox/view.js";
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

/** Where root mounts an instance's directories (in a mount namespace of the instance's own) for its sandbox. */
const MOUNT_POINTS = "/run/slipstream/mnt";

/**
 * Host uids of sandboxed instances when the server is root: a range per data directory, far above any
 * account's (and the usual subordinate ranges), one uid per running instance; below 2^31, as bubblewrap
 * writes uid maps with signed integers.
 */
const UID_FLOOR = 1_000_000_000;
const UID_SPAN = 65_536;

export interface LocalConnectorOptions {
  dataDir: string;
  /** directory holding agent.mjs and ss.mjs (agent-bundle.ts) */
  bundleDir: string;
  /** seconds between SIGTERM and SIGKILL, for the agent's recipes and for stop */
  killGraceSeconds?: number;
  /** bubblewrap to sandbox instances with (default: bwrap on PATH) */
  bwrap?: string;
  /** false: never sandbox (the local cloud is then for admins only) */
  sandbox?: boolean;
  limits?: Partial<InstanceLimits>;
  /** paths a sandbox must not show even where they lie under a system directory (the server's code) */
  hide?: string[];
  /** false: instances share the server's network even where it could give each its own (root) */
  network?: boolean;
  /** the server listens on every address (no HOST): instances reach it on the bridge directly, without a relay */
  listensEverywhere?: boolean;
}

export interface LocalConnector extends Connector {
  /** what the local cloud can do on this machine, once probed */
  isolation(): Promise<Isolation>;
  /**
   * The server listens at `serverUrl`: where instances have their own network, they reach it from now on (agents
   * still running from before a restart reconnect at once, not only when a new instance starts).
   */
  serve(serverUrl: string, accept?: (socket: Socket) => void): Promise<void>;
  /** stops relaying to the server (the server is closing); machines and their network stay */
  close(): Promise<void>;
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * The embedded cloud: each instance is an agent on this machine with a workspace of its own. Where the machine can
 * (bubblewrap, user namespaces), the agent runs in a sandbox that shows it only the system (read-only), the agent
 * bundle and the workspace, and its recipes run in a second one inside it, their machine (agent/machine.ts).
 */
export function createLocalConnector(opts: LocalConnectorOptions): LocalConnector {
  const dataDir = path.resolve(opts.dataDir);
  const instancesRoot = path.join(dataDir, "instances");
  const bundleDir = path.resolve(opts.bundleDir);
  const graceMs = (opts.killGraceSeconds ?? DEFAULT_STOP_GRACE_SECONDS) * 1000;
  const limits: InstanceLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const system: SandboxMount[] = systemMounts([dataDir, os.homedir(), ...(opts.hide ?? [])]);
  const uidBase = UID_FLOOR + (fnv1a(dataDir) % 16_000) * UID_SPAN;
  const slots = new Set<number>();
  /** The slot a host uid of this data directory's range stands for, null for any other uid. */
  const slotOf = (uid: number): number | null => (uid > uidBase && uid < uidBase + UID_SPAN ? uid - uidBase : null);

  const ready: Promise<Isolation> = detectIsolation({
    bwrap: opts.bwrap ?? "bwrap",
    system,
    limits,
    probeUid: uidBase,
    disabled: opts.sandbox === false || process.env.SLIPSTREAM_LOCAL_SANDBOX === "off",
  }).then(async (iso) => {
    if (!iso.sandboxed) return iso;
    prepareHost(iso);
    const wanted = opts.network !== false && process.env.SLIPSTREAM_LOCAL_NETWORK !== "shared";
    if (iso.asRoot && wanted && findOnPath("ip")) {
      try {
        network = await InstanceNetwork.setup(dataDir);
        iso.summary = iso.summary.replace(
          "the server's network",
          `a network namespace and address per instance on ${network.bridge} (the server is ${network.gateway})`,
        );
      } catch (err) {
        iso.summary = iso.summary.replace("the server's network", `the server's network (${(err as Error).message})`);
      }
    }
    return iso;
  });
  let network: InstanceNetwork | null = null;
  let serverAccept: ((socket: Socket) => void) | undefined;

  function prepareHost(iso: Isolation): void {
    // the agent (another uid, as root) reads the bundle through a bind mount: readable, not writable
    chmodSync(bundleDir, 0o755);
    for (const f of readdirSync(bundleDir)) chmodSync(path.join(bundleDir, f), 0o644);
    if (!iso.asRoot) return;
    // traversable by every instance's uid whatever the server's umask (npm start runs with 077)
    for (const d of ["ws", "agent", "run"]) mkdirSync(path.join(MOUNT_POINTS, d), { recursive: true });
    for (let d = path.join(MOUNT_POINTS, "ws"); d !== "/run"; d = path.dirname(d)) chmodSync(d, 0o755);
    for (const d of ["agent", "run"]) chmodSync(path.join(MOUNT_POINTS, d), 0o755);
    // uids of instances still on disk (kept, or running across a restart) stay taken
    try {
      for (const run of readdirSync(instancesRoot)) {
        for (const inst of readdirSync(path.join(instancesRoot, run))) {
          const slot = slotOf(statSync(path.join(instancesRoot, run, inst, "machine")).uid);
          if (slot !== null) slots.add(slot);
        }
      }
    } catch {
      // nothing there yet
    }
  }

  function takeSlot(): number {
    for (let s = 1; s < UID_SPAN; s++) {
      if (!slots.has(s)) {
        slots.add(s);
        return s;
      }
    }
    throw new Error("no free uid for another local instance");
  }

  const hostDirOf = (runId: string, instance: string) => path.join(instancesRoot, runId, instance);

  async function detachNetwork(hostDir: string): Promise<void> {
    const file = path.join(hostDir, "netns");
    const name = await readFile(file, "utf8").catch(() => null);
    if (name === null) return;
    await network?.detach(name.trim());
    await rm(file, { force: true });
  }
  const cgroupKey = (runId: string, instance: string) => `${runId}_${instance}`;

  function passedEnv(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const k of PASSED_ENV) {
      const v = process.env[k];
      if (v !== undefined) env[k] = v;
    }
    return env;
  }

  /** Leftovers of a first start in the same directory (a server restart while it was starting). */
  async function killLeftovers(hostDir: string): Promise<void> {
    const leftovers = (await processesWithEnv(`${TAG}=${hostDir}`)) ?? [];
    for (const pid of leftovers) signal(pid, "SIGKILL");
    await waitGone(leftovers, 2000);
  }

  /** Starts `argv` detached in `hostDir`, its output appended to `hostDir/agent.out`; returns its pid. */
  async function spawnAgent(argv: string[], env: Record<string, string>, hostDir: string): Promise<number> {
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

  async function startPlain(launch: InstanceLaunch, hostDir: string): Promise<StartedInstance> {
    const env: Record<string, string> = {
      ...passedEnv(),
      ...agentEnv(launch, {
        workspace: hostDir,
        killGraceSeconds: opts.killGraceSeconds,
        ssClient: path.join(bundleDir, "ss.mjs"),
      }),
      [TAG]: hostDir,
    };
    const pid = await spawnAgent([process.execPath, path.join(bundleDir, "agent.mjs")], env, hostDir);
    return { instanceId: `local-${pid}`, hostname: "127.0.0.1", workspace: hostDir };
  }

  async function startSandboxed(launch: InstanceLaunch, hostDir: string, iso: Isolation): Promise<StartedInstance> {
    const machineDir = path.join(hostDir, "machine");
    const runDir = path.join(hostDir, "run");
    await mkdir(machineDir, { recursive: true });
    await mkdir(runDir, { recursive: true });
    // the workspace looks like any machine's to its recipes; the directory around it keeps it from other users
    await chmod(hostDir, 0o700);
    await chmod(machineDir, 0o755);
    await chmod(runDir, 0o700);
    let uid: number | null = null;
    if (iso.asRoot) {
      // started again in the same directory: it keeps its uid
      uid = uidBase + (slotOf(statSync(machineDir).uid) ?? takeSlot());
      await chown(machineDir, uid, uid);
      await chown(runDir, uid, uid);
    }
    const key = cgroupKey(launch.runId, launch.instance);
    // a namespace of an earlier start of this instance (a restart while it was starting) goes first
    await detachNetwork(hostDir);
    const attached = network && uid !== null ? await network.attach(uid - uidBase) : null;
    if (attached) await writeFile(path.join(hostDir, "netns"), attached.name, { mode: 0o600 });
    const serviceUrl =
      network && attached
        ? await network.serviceUrl(launch.serviceUrl, opts.listensEverywhere === true, serverAccept)
        : null;
    const spec: SandboxSpec = { hostname: sandboxHostname(launch.instance), system };
    const env: Record<string, string> = {
      ...passedEnv(),
      ...agentEnv(launch, {
        workspace: SANDBOX_WORKSPACE,
        serviceUrl: serviceUrl || undefined,
        killGraceSeconds: opts.killGraceSeconds,
        ssClient: path.join(SANDBOX_AGENT_DIR, "ss.mjs"),
        sandbox: spec,
      }),
      HOME: SANDBOX_WORKSPACE,
      [TAG]: hostDir,
    };
    const src = iso.asRoot
      ? { ws: `${MOUNT_POINTS}/ws`, agent: `${MOUNT_POINTS}/agent`, run: `${MOUNT_POINTS}/run` }
      : { ws: machineDir, agent: bundleDir, run: runDir };
    const agentSandbox = [
      "bwrap",
      ...agentBwrapArgs(system, src),
      "--",
      process.execPath,
      path.join(SANDBOX_AGENT_DIR, "agent.mjs"),
    ];
    let argv = agentSandbox;
    if (iso.asRoot) {
      // root joins the instance's control groups, mounts its directories where its uid can reach them (the data
      // directory is 0700) in a mount namespace of its own, then becomes that uid for good
      const procs = iso.cgroups ? await iso.cgroups.create(key, iso.limits) : [];
      env.SLIPSTREAM_CGROUP_PROCS = procs.join(" ");
      const script = [
        "set -e",
        'for f in $SLIPSTREAM_CGROUP_PROCS; do echo $$ > "$f"; done',
        "unset SLIPSTREAM_CGROUP_PROCS",
        `mount --bind "$1" ${MOUNT_POINTS}/ws`,
        `mount --bind "$2" ${MOUNT_POINTS}/agent`,
        `mount --bind "$3" ${MOUNT_POINTS}/run`,
        "shift 3",
        'exec "$@"',
      ].join("\n");
      argv = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        script,
        "slipstream-instance",
        machineDir,
        bundleDir,
        runDir,
        "setpriv",
        `--reuid=${uid}`,
        `--regid=${uid}`,
        "--clear-groups",
        "--",
        ...agentSandbox,
      ];
      // its own network: the agent and its machine join the instance's namespace first
      if (attached) argv = ["nsenter", `--net=${attached.netns}`, "--", ...argv];
    }
    const enter = path.join(hostDir, "enter");
    await writeFile(enter, enterScript(launch, runDir, iso.asRoot), { mode: 0o700 });
    const pid = await spawnAgent(argv, env, hostDir);
    return {
      instanceId: `local-${pid}`,
      hostname: attached?.address ?? "127.0.0.1",
      workspace: SANDBOX_WORKSPACE,
      login: enter,
    };
  }

  return {
    kind: "local",

    isolation: () => ready,

    async serve(serverUrl: string, accept?: (socket: Socket) => void) {
      await ready;
      serverAccept = accept;
      await network?.serviceUrl(serverUrl, opts.listensEverywhere === true, accept);
    },

    async close() {
      await ready;
      await network?.close();
    },

    async start(launch: InstanceLaunch): Promise<StartedInstance> {
      const iso = await ready;
      const hostDir = hostDirOf(launch.runId, launch.instance);
      const fresh = (await mkdir(hostDir, { recursive: true, mode: 0o700 })) !== undefined;
      if (!fresh) {
        // started again (a server restart while it was starting): the first agent, refused now, must not linger
        // beside the new one in the same workspace
        await killLeftovers(hostDir);
      }
      return iso.sandboxed ? startSandboxed(launch, hostDir, iso) : startPlain(launch, hostDir);
    },

    async stop(instance: StopTarget, { keep }: { keep: boolean }): Promise<void> {
      const iso = await ready;
      const pid = /^local-(\d+)$/.exec(instance.instanceId)?.[1];
      const hostDir = hostDirOf(instance.runId, instance.instance);
      const marker = `${TAG}=${hostDir}`;
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
      const key = cgroupKey(instance.runId, instance.instance);
      if (iso.cgroups) {
        await iso.cgroups.kill(key);
        await iso.cgroups.remove(key);
      }
      await detachNetwork(hostDir);
      if (keep) return;
      const slot = (() => {
        try {
          return slotOf(statSync(path.join(hostDir, "machine")).uid);
        } catch {
          return null;
        }
      })();
      // only ever delete what this connector created
      if (hostDir.startsWith(`${instancesRoot}${path.sep}`)) {
        await rm(hostDir, { recursive: true, force: true });
        await rmdir(path.dirname(hostDir)).catch(() => undefined);
      }
      if (slot !== null) slots.delete(slot);
    },
  };
}

/** `enter [COMMAND…]`: a shell (or the command) in the machine of an instance, as its root, in its workspace. */
function enterScript(launch: InstanceLaunch, runDir: string, asRoot: boolean): string {
  return `#!/bin/sh
# Enters the machine of ${launch.instance} (run ${launch.runId}) as its root, in its workspace:
# ${path.basename(runDir)}/${MACHINE_PID_FILE} is written by its agent, which the machine's recipes cannot reach.
pid=$(cat '${runDir}/${MACHINE_PID_FILE}' 2>/dev/null)
case "$pid" in ''|*[!0-9]*) echo "the machine of ${launch.instance} is not running" >&2; exit 1 ;; esac
[ $# -gt 0 ] || set -- /bin/sh -c 'exec "\${SHELL:-/bin/sh}" -i'
exec nsenter -t "$pid" ${enterMachineFlags({ network: asRoot, preserveCredentials: !asRoot }).join(" ")} -- "$@"
`;
}
