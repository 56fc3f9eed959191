import { lstatSync, readlinkSync } from "node:fs";
import path from "node:path";
import {
  bwrapMountArgs,
  SANDBOX_AGENT_DIR,
  SANDBOX_RUN_DIR,
  SANDBOX_WORKSPACE,
  type SandboxMount,
} from "../../../protocol/sandbox.js";

/**
 * What of the host a sandbox sees, read-only: the system, as on any Debian-like machine, and dpkg's database, so the
 * agent can tell whether an image's packages are there already (it cannot install any: the system is read-only).
 */
const SYSTEM = ["/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/var/lib/dpkg"];

const under = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);

/**
 * The read-only system view of a local instance: the system directories (a merged-/usr symlink stays a symlink),
 * Node's installation when it lives elsewhere (the agent and recipes run it), and an empty tmpfs over each
 * `hidden` path that would otherwise show through one of them (the server's data, its code, its home).
 */
export function systemMounts(hidden: readonly string[], nodeBinary = process.execPath): SandboxMount[] {
  const mounts: SandboxMount[] = [];
  for (const p of SYSTEM) {
    try {
      const st = lstatSync(p);
      if (st.isSymbolicLink()) mounts.push({ kind: "symlink", target: readlinkSync(p), path: p });
      else if (st.isDirectory()) mounts.push({ kind: "ro", path: p });
    } catch {
      // not on this machine
    }
  }
  const nodePrefix = path.dirname(path.dirname(nodeBinary));
  const shown = () => mounts.filter((m) => m.kind === "ro").map((m) => m.path);
  if (!shown().some((d) => under(nodeBinary, d)) && nodePrefix !== "/") mounts.push({ kind: "ro", path: nodePrefix });
  for (const h of hidden.map((p) => path.resolve(p))) {
    if (shown().some((d) => under(h, d) && h !== d)) mounts.push({ kind: "tmpfs", path: h });
  }
  return mounts;
}

/**
 * The agent's sandbox: the system read-only, the host's /proc (the agent starts its machine, which writes its uid
 * map there, and enters it by pid), a private /tmp, and, when given, the workspace, the agent bundle (read-only) and
 * the agent's own directory.
 */
export function agentBwrapArgs(
  system: readonly SandboxMount[],
  dirs: { ws: string; agent: string; run: string } | null,
): string[] {
  return [
    "--unshare-user",
    ...bwrapMountArgs(system),
    ...["--bind", "/proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"],
    ...(dirs
      ? [
          ...["--bind", dirs.ws, SANDBOX_WORKSPACE, "--ro-bind", dirs.agent, SANDBOX_AGENT_DIR],
          ...["--bind", dirs.run, SANDBOX_RUN_DIR, "--chdir", SANDBOX_WORKSPACE],
        ]
      : []),
  ];
}
