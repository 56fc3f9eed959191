import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** Where a container sees the server's Node and the C library it was linked against. */
export const RUNTIME_DIR = "/opt/slipstream";
const NODE = `${RUNTIME_DIR}/bin/node`;
const LIB = `${RUNTIME_DIR}/lib`;

export interface NodeRuntime {
  /** host path → container path, mounted read-only */
  binds: string[];
  /** how the container starts Node: through the host's dynamic loader with the host's libraries, when known */
  command: string[];
}

/**
 * The server's Node, runnable in any image whatever its C library (Debian's glibc, Alpine's musl, a busybox image
 * with none): the binary, its shared libraries and the dynamic loader, as `ldd` names them, mounted beside each
 * other; Node is started by that loader with that library path, so nothing of the image is used. Where `ldd` says
 * nothing usable (a static Node, no ldd), the binary alone, started directly.
 */
export async function nodeRuntime(nodeBinary: string): Promise<NodeRuntime> {
  const plain: NodeRuntime = { binds: [`${nodeBinary}:${NODE}:ro`], command: [NODE] };
  let out: string;
  try {
    out = (await exec("ldd", [nodeBinary])).stdout;
  } catch {
    return plain;
  }
  const binds = [`${nodeBinary}:${NODE}:ro`];
  let loader: string | null = null;
  for (const line of out.split("\n")) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
    const lib = /^\s*(\S+) => (\/\S+) \(0x[0-9a-f]+\)/.exec(line);
    const ld = /^\s*(\/\S+) \(0x[0-9a-f]+\)/.exec(line);
    const [name, file] = lib ? [lib[1], lib[2]] : ld ? [path.basename(ld[1]), ld[1]] : [null, null];
    if (!name || !file) continue;
    const real = await fs.realpath(file).catch(() => null);
    if (!real) return plain;
    binds.push(`${real}:${LIB}/${name}:ro`);
    if (ld) loader = `${LIB}/${name}`;
  }
  if (!loader) return plain;
  return { binds, command: [loader, "--library-path", LIB, NODE] };
}
