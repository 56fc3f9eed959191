import { createHash, randomBytes } from "node:crypto";
import {
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import net from "node:net";
import path from "node:path";
import { Slots } from "../../../protocol/slots.js";
import { runCommand } from "../spawner.js";

/**
 * Each local instance's own network when the server is root: a network namespace with one address on a bridge the
 * server creates (one per data directory, a /22 of 10.214.0.0/16 that nothing on this machine routes yet). Instances
 * reach each other and the server (at the bridge's address) and nothing else: there is no default route in their
 * namespaces and no NAT anywhere. In its own namespace any instance may listen on any port, 80 included.
 */
const BLOCKS = 64;
const CLAIMS = "/run/slipstream/net";
/**
 * Namespaces made at once. The kernel makes them one after another anyway (its network lock), and 500 at once (a
 * run's launch) made each `ip` take over its 10 s timeout: half the instances failed to start, their namespaces left.
 */
const PARALLEL_ATTACHES = 4;

function run(argv: string[], input?: string): Promise<string> {
  return runCommand(argv, { input, timeoutMs: 10_000 });
}

/**
 * The bridge's own MAC, fixed (locally administered, from its block). A bridge left to choose takes the lowest MAC of
 * its ports: an instance joining with a lower one changes the gateway's MAC under every other instance, whose ARP
 * entry then sends to a port for ~30 s — their agents' links and ss-* calls stalled whenever a run scaled.
 */
export function bridgeMac(base: number): string {
  return [
    "02",
    "53",
    "53",
    ...[16, 8, 0].map((s) => (Math.floor(base / 2 ** s) % 256).toString(16).padStart(2, "0")),
  ].join(":");
}

/**
 * The bridge as `ip -b` lines: its fixed MAC, up, and quiet. Whatever the bridge sends itself, every instance's port
 * takes: its multicast snooping reported a membership (IGMP and MLD) each time a port joined, and an IPv6 link-local
 * address of its own would add duplicate detection and solicitations. Instances talk IPv4 through it.
 */
const QUIET_BRIDGE = (bridge: string, base: number) =>
  `link set ${bridge} type bridge mcast_snooping 0\nlink set ${bridge} addrgenmode none address ${bridgeMac(base)} up\n`;

const toInt = (ip: string) => ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
const toIp = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");

function overlaps(cidr: string, base: number, bits: number): boolean {
  const [ip, len] = cidr.includes("/") ? cidr.split("/") : [cidr, "32"];
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return false;
  const l = Math.min(Number(len), bits);
  const size = 2 ** (32 - l);
  return Math.floor(toInt(ip) / size) === Math.floor(base / size);
}

interface Claim {
  dataDir: string;
  bridge: string;
  /** the server that made or took back the claim last (claims written before it was recorded have none) */
  pid?: number;
}

interface Attached {
  /** the namespace's name, for detach */
  name: string;
  /** the namespace's file, for nsenter --net= */
  netns: string;
  address: string;
}

export class InstanceNetwork {
  private forwarders = new Map<number, net.Server>();
  private readonly attaching = new Slots(PARALLEL_ATTACHES);

  private constructor(
    readonly bridge: string,
    /** the bridge's address: the server as instances see it */
    readonly gateway: string,
    private readonly base: number,
    private readonly claimFile: string,
  ) {}

  /** Claims (or takes back, after a restart) this data directory's bridge; null when the server is not root. */
  static async setup(dataDir: string): Promise<InstanceNetwork> {
    const hash = createHash("sha256").update(dataDir).digest("hex");
    const bridge = `ssbr${hash.slice(0, 8)}`;
    const routes = JSON.parse(await run(["ip", "-j", "-4", "route", "show", "table", "all"])) as {
      dst: string;
      dev?: string;
    }[];
    mkdirSync(CLAIMS, { recursive: true, mode: 0o700 });
    // a claim whose data directory is gone is taken back by the next server: ours must exist from now on
    mkdirSync(dataDir, { recursive: true });
    const start = Number.parseInt(hash.slice(8, 12), 16) % BLOCKS;
    for (let i = 0; i < BLOCKS; i++) {
      const block = (start + i) % BLOCKS;
      const base = toInt("10.214.0.0") + block * 1024;
      const claimFile = path.join(CLAIMS, String(block));
      const claim = readClaim(claimFile);
      if (claim && claim.dataDir !== dataDir) {
        // Taken back from a server that left it: its data directory is gone; or its bridge went long ago (a machine
        // restarted, a test's server never closed), which its owner would make again here, but nothing of it is left
        // to keep and 64 blocks are all there are; or that server is gone (killed: its pid names no process) with no
        // instance left on its bridge, and started again it takes another block, as nothing here needs its
        // addresses. One server only takes it back: the claim is moved aside first (atomic: a second server taking
        // it back at the same moment finds it gone); removing it outright could remove the fresh claim another server
        // wrote meanwhile, and two bridges would then share one address
        if (existsSync(claim.dataDir) && !bridgeGoneLongAgo(claim.bridge, claimFile) && !ownerGone(claim)) continue;
        const aside = `${claimFile}.taken-${process.pid}-${randomBytes(4).toString("hex")}`;
        try {
          renameSync(claimFile, aside);
        } catch {
          continue;
        }
        const moved = readClaim(aside);
        if (moved?.dataDir !== claim.dataDir || moved?.pid !== claim.pid) {
          // what moved was another server's fresh claim: it goes back, unless a third has claimed the block since
          try {
            linkSync(aside, claimFile);
          } catch {}
          rmSync(aside, { force: true });
          continue;
        }
        await run(["ip", "link", "del", claim.bridge]).catch(() => undefined);
        rmSync(aside, { force: true });
      }
      const routed = routes.filter((r) => r.dev !== bridge && r.dst !== "default" && overlaps(r.dst, base, 22));
      // a bridge of ours that no claim holds any more (its claim went, or was just taken back above) and no instance
      // is on: nobody will use or remove it, and left, it would hold this block for good
      const strays = new Set(routed.flatMap((r) => (r.dev && isStrayCandidate(r.dev) ? [r.dev] : [])));
      if (routed.some((r) => !r.dev || !strays.has(r.dev))) continue;
      const ours = { dataDir, bridge, pid: process.pid } satisfies Claim;
      if (!claim || claim.dataDir !== dataDir) {
        try {
          // exclusive: two servers starting at once never take the same block
          writeFileSync(claimFile, JSON.stringify(ours), { mode: 0o600, flag: "wx" });
        } catch {
          continue;
        }
      } else if (claim.pid !== process.pid) {
        // this data directory's server started again: the claim says who holds it now (atomic: never half a claim)
        const fresh = `${claimFile}.fresh-${process.pid}`;
        writeFileSync(fresh, JSON.stringify(ours), { mode: 0o600 });
        renameSync(fresh, claimFile);
      }
      // the block is ours now: no other server makes a bridge on it, so whatever is still on it is a stray
      for (const stray of strays) {
        if (isStrayCandidate(stray)) await run(["ip", "link", "del", stray]).catch(() => undefined);
      }
      const gateway = toIp(base + 1);
      const link = await run(["ip", "-j", "link", "show", bridge]).catch(() => null);
      // a bridge made before its MAC was fixed gets it too
      await run(
        ["ip", "-b", "-"],
        `${link ? "" : `link add ${bridge} type bridge\naddr add ${gateway}/22 dev ${bridge}\n`}${QUIET_BRIDGE(bridge, base)}`,
      );
      return new InstanceNetwork(bridge, gateway, base, claimFile);
    }
    throw new Error("no free /22 in 10.214.0.0/16 for the local instances' network");
  }

  addressOf(slot: number): string {
    if (slot < 1 || slot > 1020) throw new Error(`no address for instance slot ${slot} (at most 1020 instances)`);
    return toIp(this.base + 1 + slot);
  }

  /**
   * A namespace for one instance, its address `addressOf(slot)` on the bridge. Names are new each time: a namespace
   * (and its link) deleted a moment ago may still be going away.
   */
  async attach(slot: number): Promise<Attached> {
    // queued here, not in the command helper: its timeout is the command's own time, not the time it waited
    const done = await this.attaching.take();
    try {
      return await this.attachNow(slot);
    } finally {
      done();
    }
  }

  private async attachNow(slot: number): Promise<Attached> {
    const id = randomBytes(5).toString("hex");
    const ns = `ss-${id}`;
    const veth = `ssv${id}`;
    const address = this.addressOf(slot);
    // One process for it all (a run of 100 instances starts 100 of these at once), and one `ip` inside the namespace:
    // each start of `ip` (its libraries mapped, relocated) cost more than what it did. The links make no IPv6 address
    // of their own: its duplicate detection, router solicitation and listener reports are multicast, which the bridge
    // floods to every other instance's port (quadratic: at 500 instances, 1.6 s of softirq a launch instead of 0.4)
    const inNamespace = [
      "link set eth0 addrgenmode none",
      `addr add ${address}/22 dev eth0`,
      "link set eth0 up",
      "link set lo up",
    ];
    const inside = [
      `printf '%s\\n' ${inNamespace.map((line) => `'${line}'`).join(" ")} | ip -b -`,
      // a recipe is root only in its user namespace: let it listen on any port of its own network, as on a machine
      "echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start",
    ].join(" && ");
    try {
      await run(
        ["ip", "-b", "-"],
        [
          `netns add ${ns}`,
          `link add ${veth} type veth peer name eth0 netns ${ns}`,
          `link set ${veth} addrgenmode none master ${this.bridge} up`,
          `netns exec ${ns} sh -c "${inside}"`,
          "",
        ].join("\n"),
      );
    } catch (err) {
      // what the batch made before it failed goes with it (its link too): nobody knows its name but us
      await this.detach(ns);
      throw err;
    }
    return { name: ns, netns: `/run/netns/${ns}`, address };
  }

  /**
   * The namespace's name goes once a process (the instance's machine) holds it: the namespace stays as long as that
   * process lives, and goes with it, its link with it. Each name is a mount in the server's mount namespace, which
   * every new mount namespace (each machine's bubblewrap, each `ip netns exec`) copies and tears down again: with
   * the names of a 500-instance run kept, each start took ~70 ms instead of ~7 ms (quadratic in the run's size).
   */
  async release(name: string): Promise<void> {
    await this.detach(name);
  }

  async detach(name: string): Promise<void> {
    await deleteNamespace(name);
  }

  /**
   * The server's port as instances reach it: the server itself when it listens on every address, else a relay on
   * the bridge's address to where it listens (the same port, so agents find it again after a server restart).
   */
  async serviceUrl(
    serverUrl: string,
    listensEverywhere: boolean,
    accept?: (socket: net.Socket) => void,
  ): Promise<string> {
    const u = new URL(serverUrl);
    const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
    const url = `${u.protocol}//${this.gateway}:${port}`;
    if (listensEverywhere || this.forwarders.has(port)) return url;
    // in the server's own process its HTTP server takes the connections as if it had accepted them (no copy);
    // elsewhere (a connector on its own, in tests) a relay to where the server listens
    const relay = net.createServer((client) => {
      if (accept) return accept(client);
      const upstream = net.connect(port, u.hostname);
      client.pipe(upstream).pipe(client);
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on("error", close);
      upstream.on("error", close);
    });
    const listen = () =>
      new Promise<void>((resolve, reject) => {
        relay.once("error", reject);
        relay.listen(port, this.gateway, () => {
          relay.off("error", reject);
          resolve();
        });
      });
    await listen().catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== "EADDRNOTAVAIL") throw err;
      // the bridge lost its address (or went) under us: it is ours, put it back as setup makes it, then once more
      await this.ensureBridge();
      await listen();
    });
    relay.unref();
    this.forwarders.set(port, relay);
    return url;
  }

  /** The bridge up with its address, whatever of it is missing. */
  private async ensureBridge(): Promise<void> {
    const link = await run(["ip", "-j", "link", "show", this.bridge]).catch(() => null);
    if (!link) await run(["ip", "link", "add", this.bridge, "type", "bridge"]);
    await run(["ip", "addr", "replace", `${this.gateway}/22`, "dev", this.bridge]);
    await run(["ip", "-b", "-"], QUIET_BRIDGE(this.bridge, this.base));
  }

  /** Stops relaying; gives the bridge and its addresses back when no instance is on it any more. */
  async close(): Promise<void> {
    for (const f of this.forwarders.values()) f.close();
    this.forwarders.clear();
    // when the links cannot be listed, the bridge stays: an instance may still be on it
    const links = await run(["ip", "-j", "link", "show", "master", this.bridge]).catch(() => null);
    if (links !== null && (JSON.parse(links) as unknown[]).length === 0) await dropBridge(this.bridge, this.claimFile);
  }
}

/** An instance's namespace, by the name attach gave it (nothing else is ever deleted). */
export async function deleteNamespace(name: string): Promise<void> {
  if (/^ss-[0-9a-f]{10}$/.test(name)) await run(["ip", "netns", "del", name]).catch(() => undefined);
}

/** The bridge deleted, and its claim with it only once it is gone: a bridge left without one would hold its block. */
async function dropBridge(bridge: string, claimFile: string): Promise<void> {
  await run(["ip", "link", "del", bridge]).catch(() => undefined);
  if (!existsSync(`/sys/class/net/${bridge}`)) rmSync(claimFile, { force: true });
}

/**
 * A data directory's bridge and claim, whatever is on the bridge: what `close` leaves while an instance is attached,
 * for a caller that knows the directory's server and instances are gone (the tests' teardown).
 */
export async function dropNetworkOf(dataDir: string): Promise<void> {
  let blocks: string[] = [];
  try {
    blocks = readdirSync(CLAIMS).filter((b) => /^\d+$/.test(b));
  } catch {
    return;
  }
  for (const block of blocks) {
    const claimFile = path.join(CLAIMS, block);
    const claim = readClaim(claimFile);
    if (claim?.dataDir === dataDir && /^ssbr[0-9a-f]{8}$/.test(claim.bridge)) await dropBridge(claim.bridge, claimFile);
  }
}

/** A claim older than a minute whose bridge does not exist (a fresh claim's bridge is made a moment after it). */
function bridgeGoneLongAgo(bridge: string, claimFile: string): boolean {
  if (existsSync(`/sys/class/net/${bridge}`)) return false;
  try {
    return Date.now() - statSync(claimFile).mtimeMs > 60_000;
  } catch {
    return false;
  }
}

/** The claim names its server and that process is gone, with no instance left on its bridge (a server killed). */
function ownerGone(claim: Claim): boolean {
  if (claim.pid === undefined || portsOf(claim.bridge) > 0) return false;
  try {
    process.kill(claim.pid, 0);
    return false;
  } catch (err) {
    // EPERM: a process of another user has the pid now — it is not ours, but it is there; leave the claim
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/** Instances attached to the bridge (its ports); none when it does not exist. */
function portsOf(bridge: string): number {
  try {
    return readdirSync(`/sys/class/net/${bridge}/brif`).length;
  } catch {
    return 0;
  }
}

/** One of our bridges (by its name) with no instance on it. */
function isStrayCandidate(dev: string): boolean {
  return /^ssbr[0-9a-f]{8}$/.test(dev) && portsOf(dev) === 0;
}

function readClaim(file: string): Claim | null {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Claim;
  } catch {
    return null;
  }
}
