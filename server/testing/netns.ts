import { type ChildProcess, execFile, spawn } from "node:child_process";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";

const exec = promisify(execFile);

/**
 * Real SSH hosts for tests: one network namespace per host, joined to the root namespace by a bridge of ours
 * (so hosts reach each other and the test server without IP forwarding), each running its own sshd that lets
 * in an unprivileged user created for the test. Everything is removed by `cleanup()`.
 */
interface NetnsHost {
  name: string;
  ns: string;
  address: string;
  /** stops this host's sshd (a host going away) */
  stopSshd(): Promise<void>;
  /** takes the host's link down or brings it back (a network partition: its processes go on, unreachable) */
  setLink(up: boolean): Promise<void>;
}

export interface TestHosts {
  /** the login user created for the test */
  user: string;
  home: string;
  /** private key (OpenSSH format) that the hosts' sshd accepts for `user`: the cloud's credential */
  clientKey: string;
  /** the root namespace's address on the bridge: where the hosts reach the test server */
  gateway: string;
  hosts: NetnsHost[];
  cleanup(): Promise<void>;
}

/** Null when namespaces can be made here, else why not (for it.skipIf). */
export async function netnsUnavailable(): Promise<string | null> {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (process.getuid?.() !== 0) return "creating network namespaces and users needs root";
  for (const bin of ["/usr/sbin/sshd", "/usr/bin/ssh-keygen"]) {
    try {
      await fs.access(bin);
    } catch {
      return `${bin} is not installed (openssh-server)`;
    }
  }
  try {
    await exec("ip", ["netns", "list"]);
  } catch (err) {
    return `ip netns is unavailable: ${(err as Error).message}`;
  }
  return null;
}

async function run(cmd: string, args: string[]): Promise<string> {
  try {
    return (await exec(cmd, args)).stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`${cmd} ${args.join(" ")}: ${e.stderr?.trim() || e.message}`);
  }
}

async function quiet(cmd: string, args: string[]): Promise<void> {
  await exec(cmd, args).catch(() => undefined);
}

/** A /24 in 10.213.0.0/16 that no interface or route here uses yet. */
async function freeSubnet(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const k = ((process.pid + i) % 200) + 20;
    const addrs = await run("ip", ["-o", "addr", "show", "to", `10.213.${k}.0/24`]);
    const routes = await run("ip", ["route", "show", `10.213.${k}.0/24`]);
    if (!addrs.trim() && !routes.trim()) return k;
  }
  throw new Error("no free 10.213.x.0/24 subnet");
}

/** Refuses unless ADDR is reached through our own bridge (never dial anything outside the namespaces). */
export async function assertOwnRoute(address: string, bridge: string): Promise<void> {
  const out = await run("ip", ["route", "get", address]);
  if (!new RegExp(`\\bdev ${bridge}\\b`).test(out)) {
    throw new Error(`refusing to use ${address}: it is not routed through ${bridge} (${out.trim()})`);
  }
}

function waitListening(address: string, port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect({ host: address, port });
      s.once("connect", () => {
        s.destroy();
        resolve();
      });
      s.once("error", () => {
        s.destroy();
        if (Date.now() > until) reject(new Error(`sshd on ${address}:${port} did not start`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export async function createTestHosts(names: string[]): Promise<TestHosts> {
  const tag = `${process.pid}`;
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "ss-netns-"));
  await fs.chmod(tmp, 0o755);
  const user = `ss${tag}`;
  const home = path.join(tmp, "home");
  const bridge = `ssb${tag}`;
  const procs: ChildProcess[] = [];
  const namespaces: string[] = [];
  let userCreated = false;
  let bridgeCreated = false;

  const cleanup = async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGTERM");
    if (userCreated) {
      // the agents and recipes left behind run as the test user only
      await quiet("pkill", ["-KILL", "-u", user]);
      await sleep(100);
      await quiet("userdel", [user]);
    }
    for (const ns of namespaces) await quiet("ip", ["netns", "del", ns]);
    if (bridgeCreated) await quiet("ip", ["link", "del", bridge]);
    await fs.rm(tmp, { recursive: true, force: true });
  };

  try {
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "slipstream-test-cloud", "-f", `${tmp}/client`]);
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "slipstream-test-host", "-f", `${tmp}/host`]);
    await fs.copyFile(`${tmp}/client.pub`, `${tmp}/cloud_keys`);
    await fs.chmod(`${tmp}/cloud_keys`, 0o644);
    await fs.mkdir("/run/sshd", { recursive: true, mode: 0o755 });

    await run("useradd", ["-M", "-d", home, "-s", "/bin/sh", "-p", "*", user]);
    userCreated = true;
    await fs.mkdir(home, { mode: 0o755 });
    await run("chown", [`${user}:`, home]);

    const k = await freeSubnet();
    const gateway = `10.213.${k}.1`;
    await run("ip", ["link", "add", bridge, "type", "bridge"]);
    bridgeCreated = true;
    await run("ip", ["addr", "add", `${gateway}/24`, "dev", bridge]);
    await run("ip", ["link", "set", bridge, "up"]);

    const hosts: NetnsHost[] = [];
    for (const [i, name] of names.entries()) {
      const ns = `ss-${tag}-${name}`;
      const address = `10.213.${k}.${10 + i}`;
      const outer = `ssv${tag}${i}`;
      const inner = `ssp${tag}${i}`;
      await run("ip", ["netns", "add", ns]);
      namespaces.push(ns);
      await run("ip", ["link", "add", outer, "type", "veth", "peer", "name", inner]);
      await run("ip", ["link", "set", inner, "netns", ns]);
      await run("ip", ["link", "set", outer, "master", bridge, "up"]);
      await run("ip", ["-n", ns, "link", "set", inner, "name", "eth0"]);
      await run("ip", ["-n", ns, "addr", "add", `${address}/24`, "dev", "eth0"]);
      await run("ip", ["-n", ns, "link", "set", "eth0", "up"]);
      await run("ip", ["-n", ns, "link", "set", "lo", "up"]);
      await assertOwnRoute(address, bridge);

      const conf = path.join(tmp, `sshd-${name}.conf`);
      await fs.writeFile(
        conf,
        [
          `ListenAddress ${address}:22`,
          `HostKey ${tmp}/host`,
          `PidFile ${tmp}/sshd-${name}.pid`,
          `AuthorizedKeysFile ${tmp}/cloud_keys .ssh/authorized_keys`,
          "PasswordAuthentication no",
          "KbdInteractiveAuthentication no",
          "PermitRootLogin prohibit-password",
          "StrictModes no",
          "UsePAM no",
          `AllowUsers ${user}`,
          "Subsystem sftp internal-sftp",
          "MaxStartups 100:30:200",
          "MaxSessions 100",
          "LogLevel ERROR",
          "",
        ].join("\n"),
      );
      const proc = spawn("ip", ["netns", "exec", ns, "/usr/sbin/sshd", "-D", "-e", "-f", conf], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      proc.stderr?.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      procs.push(proc);
      await waitListening(address, 22, 5000).catch((err) => {
        throw new Error(`${(err as Error).message}: ${stderr.trim()}`);
      });
      hosts.push({
        name,
        ns,
        address,
        async setLink(up: boolean) {
          await run("ip", ["link", "set", outer, up ? "up" : "down"]);
        },
        async stopSshd() {
          if (proc.exitCode !== null || proc.signalCode !== null) return;
          const gone = new Promise((r) => proc.once("exit", r));
          proc.kill("SIGTERM");
          await gone;
        },
      });
    }
    return {
      user,
      home,
      clientKey: await fs.readFile(`${tmp}/client`, "utf8"),
      gateway,
      hosts,
      cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** A fresh OpenSSH key pair (the "user's profile key" of a test). */
export async function generateKeyPair(): Promise<{ privateKey: string; publicKey: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-key-"));
  try {
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "slipstream-test-user", "-f", `${dir}/k`]);
    return {
      privateKey: await fs.readFile(`${dir}/k`, "utf8"),
      publicKey: (await fs.readFile(`${dir}/k.pub`, "utf8")).trim(),
    };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
