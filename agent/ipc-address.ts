import { createHash } from "node:crypto";
import os from "node:os";
import path from "node:path";

/** Env var naming the agent's socket, set for scripts and in slipstream.setenv. */
export const IPC_ENV = "SLIPSTREAM_AGENT_SOCKET";

/** sun_path holds 104–108 bytes depending on the OS; stay under both. */
const MAX_SOCKET_PATH = 100;

/**
 * The socket lives in the workspace when its path fits a unix socket address; deep data directories
 * fall back to a short path in the temp dir, stable per workspace so slipstream.setenv stays valid.
 */
export function ipcSocketPath(workspace: string): string {
  const inWorkspace = path.join(workspace, ".ss.sock");
  if (Buffer.byteLength(inWorkspace) <= MAX_SOCKET_PATH) return inWorkspace;
  const digest = createHash("sha256").update(workspace).digest("hex").slice(0, 16);
  const inTmp = path.join(os.tmpdir(), `ss-${digest}.sock`);
  return Buffer.byteLength(inTmp) <= MAX_SOCKET_PATH ? inTmp : `/tmp/ss-${digest}.sock`;
}
