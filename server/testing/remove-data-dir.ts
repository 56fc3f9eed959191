import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { InstanceCgroups } from "../connectors/sandbox/cgroups.js";

const CLAIMS = "/run/slipstream/net";

const ip = (...args: string[]) =>
  new Promise<void>((resolve) => execFile("ip", args, { timeout: 10_000 }, () => resolve()));

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
      const key = `${run}_${instance}`;
      if (cgroups) {
        await cgroups.kill(key);
        await cgroups.remove(key);
      }
      let netns = "";
      try {
        netns = readFileSync(path.join(instancesRoot, run, instance, "netns"), "utf8").trim();
      } catch {}
      if (/^ss-[0-9a-f]{10}$/.test(netns)) await ip("netns", "del", netns);
    }
  }
  for (const block of list(CLAIMS)) {
    if (!/^\d+$/.test(block)) continue;
    const file = path.join(CLAIMS, block);
    let claim: { dataDir?: string; bridge?: string } = {};
    try {
      claim = JSON.parse(readFileSync(file, "utf8"));
    } catch {
      continue;
    }
    if (claim.dataDir !== dataDir) continue;
    if (claim.bridge && /^ssbr[0-9a-f]{8}$/.test(claim.bridge)) await ip("link", "del", claim.bridge);
    // as the server's own close: the claim goes with its bridge only
    if (!claim.bridge || !existsSync(`/sys/class/net/${claim.bridge}`)) rmSync(file, { force: true });
  }
  try {
    rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    // a process this file did not start writes there still: what is left is left
  }
}
