import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import path from "node:path";
import { machineBwrapArgs, type SandboxMount } from "../../../protocol/sandbox.js";
import { InstanceCgroups, type InstanceLimits } from "./cgroups.js";
import { agentBwrapArgs } from "./view.js";

/** What the local cloud can do on this machine, decided once at boot. */
export interface Isolation {
  sandboxed: boolean;
  /** the server is root: each instance gets a host uid of its own and its workspace is mounted by root */
  asRoot: boolean;
  cgroups: InstanceCgroups | null;
  limits: InstanceLimits;
  /** one line for `npm start`: which isolation is in effect */
  summary: string;
  /** why the local cloud is not sandboxed and what to install; unset when it is */
  unavailable?: string;
}

export const DEFAULT_LIMITS: InstanceLimits = { memoryBytes: 2 * 2 ** 30, pids: 1024 };

/** The tools of a sandboxed local instance, by the package that brings them on Debian. */
const TOOLS: [string, string][] = [
  ["nsenter", "util-linux"],
  ["unshare", "util-linux"],
  ["setpriv", "util-linux"],
  ["mount", "mount"],
];

export function findOnPath(command: string): string | null {
  if (command.includes("/")) return canRun(command) ? command : null;
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(":")) {
    const candidate = path.join(dir || ".", command);
    if (canRun(candidate)) return candidate;
  }
  return null;
}

function canRun(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function run(argv: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(argv[0], argv.slice(1), { timeout: 10_000 }, (err, _out, stderr) =>
      resolve(err ? (stderr.trim() || err.message).split("\n").pop() || "failed" : null),
    );
  });
}

/**
 * Starts a sandbox in a sandbox as instances do (the agent's, then the machine's), as the uid an instance would
 * get: null when that works, else what failed.
 */
async function probe(bwrap: string, system: SandboxMount[], asRoot: boolean, uid: number): Promise<string | null> {
  const nested = [
    bwrap,
    ...agentBwrapArgs(system, null),
    "--",
    bwrap,
    ...machineBwrapArgs({ hostname: "probe", system }, null),
    "--",
    "true",
  ];
  return run(asRoot ? ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "--", ...nested] : nested);
}

export async function detectIsolation(opts: {
  bwrap: string;
  system: SandboxMount[];
  limits: InstanceLimits;
  probeUid: number;
  /** SLIPSTREAM_LOCAL_SANDBOX=off: an admin chose not to sandbox (the local cloud is then for admins only) */
  disabled?: boolean;
}): Promise<Isolation> {
  const asRoot = process.getuid?.() === 0;
  const open = (unavailable: string): Isolation => ({
    sandboxed: false,
    asRoot,
    cgroups: null,
    limits: opts.limits,
    unavailable,
    summary: `local cloud: NOT sandboxed (${unavailable}): open to admins only`,
  });
  if (process.platform !== "linux") return open("sandboxes need Linux");
  if (opts.disabled) return open("SLIPSTREAM_LOCAL_SANDBOX=off");
  const bwrap = findOnPath(opts.bwrap);
  if (!bwrap) return open(`bubblewrap not found (${opts.bwrap}); install it: apt-get install bubblewrap`);
  const missing = TOOLS.filter(([t]) => !findOnPath(t));
  if (missing.length) {
    return open(
      `${missing.map(([t]) => t).join(", ")} not found; install: apt-get install ${[...new Set(missing.map(([, p]) => p))].join(" ")}`,
    );
  }
  const failed = await probe(bwrap, opts.system, asRoot, opts.probeUid);
  if (failed) {
    return open(
      `bubblewrap cannot make user namespaces here (${failed}); enable them (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)`,
    );
  }
  const cgroups = InstanceCgroups.detect();
  const parts = [
    "own mounts, PIDs, hostname and /tmp (bubblewrap)",
    asRoot ? "a host uid per instance" : "the server's uid outside (start the server as root for a uid per instance)",
    cgroups ? cgroups.describe(opts.limits) : "no memory or process limits (they need root and cgroups)",
    "the server's network",
  ];
  return {
    sandboxed: true,
    asRoot,
    cgroups,
    limits: opts.limits,
    summary: `local cloud: sandboxed: ${parts.join("; ")}`,
  };
}
