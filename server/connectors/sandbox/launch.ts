import { chmodSync, mkdirSync } from "node:fs";
import path from "node:path";
import type { HostMachine } from "../../../protocol/local-host.js";
import {
  enterMachineFlags,
  MACHINE_PID_FILE,
  SANDBOX_AGENT_DIR,
  type SandboxMount,
} from "../../../protocol/sandbox.js";
import { agentBwrapArgs } from "./view.js";

/** Where root mounts an instance's directories (in a mount namespace of the instance's own) for its sandbox. */
const MOUNT_POINTS = "/run/slipstream/mnt";

/** Root's mount points, traversable by every instance's uid whatever the server's umask (npm start runs with 077). */
export function prepareMountPoints(): void {
  for (const d of ["ws", "agent", "run"]) mkdirSync(path.join(MOUNT_POINTS, d), { recursive: true });
  for (let d = path.join(MOUNT_POINTS, "ws"); d !== "/run"; d = path.dirname(d)) chmodSync(d, 0o755);
  for (const d of ["agent", "run"]) chmodSync(path.join(MOUNT_POINTS, d), 0o755);
}

/** An instance's directories on the host: its machine (the workspace), the agent bundle and the agent's own. */
interface InstanceDirs {
  machineDir: string;
  bundleDir: string;
  runDir: string;
}

/**
 * The command that starts a sandboxed agent. Without root: bubblewrap over the instance's directories. As root:
 * the same bubblewrap over the mount points, after joining the instance's control groups (their `cgroup.procs`
 * files, passed in the environment as `SLIPSTREAM_CGROUP_PROCS`), mounting its directories there in a mount
 * namespace of its own and becoming `uid` for good; in the instance's network namespace when it has one.
 */
export function sandboxedAgentArgv(
  system: readonly SandboxMount[],
  dirs: InstanceDirs,
  asRoot: { uid: number; netns: string | null } | null,
): string[] {
  const src = asRoot
    ? { ws: `${MOUNT_POINTS}/ws`, agent: `${MOUNT_POINTS}/agent`, run: `${MOUNT_POINTS}/run` }
    : { ws: dirs.machineDir, agent: dirs.bundleDir, run: dirs.runDir };
  const agentSandbox = [
    "bwrap",
    ...agentBwrapArgs(system, src),
    "--",
    process.execPath,
    path.join(SANDBOX_AGENT_DIR, "agent.mjs"),
  ];
  if (!asRoot) return agentSandbox;
  // root joins the instance's control groups, mounts its directories where its uid can reach them (the data
  // directory is 0700) in a mount namespace of its own, then becomes that uid for good
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
  const argv = [
    "unshare",
    "--mount",
    "--propagation",
    "private",
    "--",
    "/bin/sh",
    "-c",
    script,
    "slipstream-instance",
    dirs.machineDir,
    dirs.bundleDir,
    dirs.runDir,
    "setpriv",
    `--reuid=${asRoot.uid}`,
    `--regid=${asRoot.uid}`,
    "--clear-groups",
    "--",
    ...agentSandbox,
  ];
  // its own network: the agent and its machine join the instance's namespace first
  return asRoot.netns ? ["nsenter", `--net=${asRoot.netns}`, "--", ...argv] : argv;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * `enter [COMMAND…]`: a shell (or the command) in the machine of an instance, as its root, in its workspace; in the
 * instance's control groups (`cgroupProcs`, their cgroup.procs files) like its recipes, so that what a person or a
 * debug command starts there counts against the instance's memory and process limits too.
 */
export function enterScript(
  launch: { runId: string; instance: string },
  runDir: string,
  asRoot: boolean,
  cgroupProcs: readonly string[] = [],
): string {
  const join = cgroupProcs.length
    ? `for f in ${cgroupProcs.map(shellQuote).join(" ")}; do
  echo $$ > "$f" || { echo "could not join the control groups of ${launch.instance}" >&2; exit 1; }
done
`
    : "";
  return `#!/bin/sh
# Enters the machine of ${launch.instance} (run ${launch.runId}) as its root, in its workspace:
# ${path.basename(runDir)}/${MACHINE_PID_FILE} is written by its agent, which the machine's recipes cannot reach.
pid=$(cat '${runDir}/${MACHINE_PID_FILE}' 2>/dev/null)
case "$pid" in ''|*[!0-9]*) echo "the machine of ${launch.instance} is not running" >&2; exit 1 ;; esac
${join}[ $# -gt 0 ] || set -- /bin/sh -c 'exec "\${SHELL:-/bin/sh}" -i'
exec nsenter -t "$pid" ${enterMachineFlags({ network: asRoot, preserveCredentials: !asRoot }).join(" ")} -- "$@"
`;
}

/** sh -c: joins the cgroup.procs files given before `--`, then runs what follows it (agent/machine.ts does the same) */
const JOIN_CGROUPS = 'for f; do [ "$f" = -- ] && break; echo $$ > "$f"; shift; done; shift; exec "$@"';

/**
 * How a run's agent host (agent/host.ts) starts an instance's machine: without root, bubblewrap over the workspace as
 * it is; as root, what the agent's own sandbox did for it before (sandboxedAgentArgv) — join the instance's control
 * groups and network, mount its workspace where its uid can reach it in a mount namespace of its own, become that uid
 * for good — then the machine's bubblewrap. Recipes enter it after joining the same control groups.
 */
export function hostedMachine(
  dirs: { machineDir: string; runDir: string },
  asRoot: { uid: number; netns: string | null } | null,
  cgroupProcs: string[],
  fastIpc: HostMachine["fastIpc"] = null,
): HostMachine {
  const pidFile = path.join(dirs.runDir, MACHINE_PID_FILE);
  if (!asRoot) {
    return {
      prefix: [],
      source: dirs.machineDir,
      pidFile,
      asRoot: false,
      cgroupProcs: [],
      netns: null,
      fastIpc: null,
      uid: null,
    };
  }
  const prefix = [
    ...["/bin/sh", "-c", JOIN_CGROUPS, "slipstream-machine", ...cgroupProcs, "--"],
    ...(asRoot.netns ? ["nsenter", `--net=${asRoot.netns}`, "--"] : []),
    ...["unshare", "--mount", "--propagation", "private", "--"],
    ...[
      "/bin/sh",
      "-c",
      `mount --bind "$1" ${MOUNT_POINTS}/ws; shift; exec "$@"`,
      "slipstream-machine",
      dirs.machineDir,
    ],
    ...["setpriv", `--reuid=${asRoot.uid}`, `--regid=${asRoot.uid}`, "--clear-groups", "--"],
  ];
  return {
    prefix,
    source: `${MOUNT_POINTS}/ws`,
    pidFile,
    asRoot: true,
    cgroupProcs,
    netns: asRoot.netns,
    fastIpc: asRoot.netns ? fastIpc : null,
    uid: asRoot.uid,
  };
}
