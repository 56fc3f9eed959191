import { readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { cgroupKey, InstanceCgroups } from "../connectors/sandbox/cgroups.js";
import { deleteNamespace, dropNetworkOf } from "../connectors/sandbox/network.js";

const list = (dir: string) => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};

/**
 * What a test's server left of its local instances once its processes are gone, as the server's own stop would have
 * removed it: each instance's control groups and network namespace, the data directory's bridge and claim, and the
 * directory itself. A server killed (kill -9) or closed with its instances kept leaves all of these; over many runs
 * on one machine they filled its 64 network blocks and thousands of data directories.
 */
export async function removeDataDir(dataDir: string): Promise<void> {
  const instancesRoot = path.join(dataDir, "instances");
  const cgroups = process.getuid?.() === 0 ? InstanceCgroups.detect() : null;
  for (const run of list(instancesRoot)) {
    for (const instance of list(path.join(instancesRoot, run))) {
      if (instance.startsWith(".")) continue;
      const key = cgroupKey(run, instance);
      if (cgroups) {
        await cgroups.kill(key);
        await cgroups.remove(key);
      }
      try {
        await deleteNamespace(readFileSync(path.join(instancesRoot, run, instance, "netns"), "utf8").trim());
      } catch {
        // no namespace of its own
      }
    }
  }
  await dropNetworkOf(dataDir);
  try {
    rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    // a process this file did not start writes there still: what is left is left
  }
}
