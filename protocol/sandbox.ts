import path from "node:path";
import { z } from "zod";

/**
 * The contract between the local cloud and an agent it starts in a sandbox (env SLIPSTREAM_SANDBOX, JSON):
 * the read-only system view the agent's own sandbox was built from, which the agent mirrors for the machine
 * its recipes run in.
 */
export const SANDBOX_ENV = "SLIPSTREAM_SANDBOX";

/** Where an instance's workspace is, as its agent and its recipes see it. */
export const SANDBOX_WORKSPACE = "/slipstream";
/** The agent bundle (read-only), seen by the agent only. */
export const SANDBOX_AGENT_DIR = "/run/slipstream-agent";
/** The agent's private directory (the machine's pid for `enter`), seen by the agent only. */
export const SANDBOX_RUN_DIR = "/run/slipstream";
/** The file in SANDBOX_RUN_DIR holding the host pid of the machine's first process. */
export const MACHINE_PID_FILE = "machine.pid";

export const AbsPath = z
  .string()
  .refine((p) => path.isAbsolute(p) && path.normalize(p) === p, "must be a normalised absolute path");

export const SandboxMount = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("ro"), path: AbsPath }),
  z.object({ kind: z.literal("symlink"), target: z.string().min(1), path: AbsPath }),
  /** an empty tmpfs hiding what the server keeps under a system path (its data, its code) */
  z.object({ kind: z.literal("tmpfs"), path: AbsPath }),
]);
export type SandboxMount = z.infer<typeof SandboxMount>;

export const SandboxSpec = z.object({
  /** the machine's hostname: the instance name with '-' for '.' (client-2) */
  hostname: z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/, "must be a hostname"),
  system: z.array(SandboxMount).max(64),
});
export type SandboxSpec = z.infer<typeof SandboxSpec>;

/** bubblewrap arguments that lay out these mounts, in order (a tmpfs hides what an earlier bind showed). */
export function bwrapMountArgs(mounts: readonly SandboxMount[]): string[] {
  return mounts.flatMap((m) =>
    m.kind === "ro"
      ? ["--ro-bind", m.path, m.path]
      : m.kind === "symlink"
        ? ["--symlink", m.target, m.path]
        : ["--tmpfs", m.path],
  );
}

/**
 * The machine's sandbox (agent/machine.ts): root of a user namespace of its own, its own PIDs, IPC and hostname, the
 * system read-only, a fresh /proc, /tmp, /run and /var, and the workspace (when given) as its only shared directory,
 * bound from `source` when the one starting it sees the workspace elsewhere (a host process serving many instances).
 */
export function machineBwrapArgs(spec: SandboxSpec, workspace: string | null, source = workspace): string[] {
  return [
    ...["--unshare-user", "--uid", "0", "--gid", "0", "--unshare-pid", "--unshare-ipc", "--unshare-uts"],
    ...["--hostname", spec.hostname],
    ...bwrapMountArgs(spec.system),
    ...["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp", "--tmpfs", "/run", "--tmpfs", "/var"],
    ...["--perms", "1777", "--dir", "/var/tmp", "--dir", "/var/log", "--dir", "/var/cache", "--dir", "/var/lib"],
    ...["--dir", "/root"],
    ...(workspace ? ["--bind", source ?? workspace, workspace, "--chdir", workspace] : []),
  ];
}

/**
 * nsenter's flags that enter a machine (given its first process by -t): its user, mount, PID, UTS and IPC
 * namespaces, its network where the one entering is not in it already, its root and working directory. Keeping the
 * caller's credentials is for a caller that owns the machine's user namespace without being root where it was made
 * (there nsenter's setgroups is refused); the uid it keeps is the machine's root.
 */
export function enterMachineFlags(opts: { network: boolean; preserveCredentials: boolean }): string[] {
  return [
    ...["-U", "-m", "-p", "-u", "-i"],
    ...(opts.network ? ["-n"] : []),
    ...["-r", "-w"],
    ...(opts.preserveCredentials ? ["--preserve-credentials"] : []),
  ];
}

export function sandboxHostname(instance: string): string {
  return instance.replace(/\./g, "-").slice(0, 63);
}
