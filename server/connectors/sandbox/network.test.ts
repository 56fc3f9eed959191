import { execFile, execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { findOnPath } from "./isolation.js";
import { dropNetworkOf, InstanceNetwork } from "./network.js";

const usable = process.getuid?.() === 0 && findOnPath("ip") !== null;
const made: { net: InstanceNetwork; dir: string }[] = [];
afterEach(async () => {
  for (const m of made.splice(0)) {
    await m.net.close();
    // a namespace deleted a moment ago takes its link off the bridge a little later, in the kernel's own time: close
    // then leaves the bridge (an instance may be on it); these tests know none is, and the bridge goes now
    await dropNetworkOf(m.dir);
    rmSync(m.dir, { recursive: true, force: true });
  }
});
const ip = (...args: string[]) => execFileSync("ip", args, { encoding: "utf8" });
/** a listener on port 7000 of the address given, which says so once it listens */
const LISTENER =
  'require("net").createServer((s) => s.end("here\\n")).listen(7000, process.argv[1], () => console.log("listening"))';
const DIAL = (address: string) => `exec 3<>/dev/tcp/${address}/7000 && head -1 <&3`;

/** The block (of 64) a server's network is on, from its gateway 10.214.<4 × block>.1. */
const blockOf = (net: InstanceNetwork) => Number(net.gateway.split(".")[2]) / 4;
const claimFile = (block: number) => `/run/slipstream/net/${block}`;
/** A data directory (made) whose server looks at `block` first, as a second server on a crowded machine would. */
function dataDirStartingAt(block: number): string {
  const root = mkdtempSync(path.join(os.tmpdir(), "ss-net-"));
  for (let i = 0; ; i++) {
    const dir = path.join(root, `d${i}`);
    const hash = createHash("sha256").update(dir).digest("hex");
    if (Number.parseInt(hash.slice(8, 12), 16) % 64 === block) {
      mkdirSync(dir);
      return dir;
    }
  }
}
/** A pid no process has (one that just ended). */
const deadPid = () => spawnSync("true").pid as number;

describe.skipIf(!usable)("the instances' network", () => {
  it("a bridge that lost its address (or went) is made whole again when the server's port is relayed on it", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "ss-net-"));
    const net = await InstanceNetwork.setup(dir);
    made.push({ net, dir });
    ip("addr", "flush", "dev", net.bridge);
    const url = await net.serviceUrl("http://127.0.0.1:45999", false);
    expect(url).toBe(`http://${net.gateway}:45999`);
    expect(ip("-4", "addr", "show", "dev", net.bridge)).toContain(`${net.gateway}/22`);
  });

  it("an instance joining with a lower MAC leaves the gateway's MAC, and the others' connections to it, as they were", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "ss-net-"));
    const net = await InstanceNetwork.setup(dir);
    made.push({ net, dir });
    const listener = createServer((socket) => socket.end("here\n"));
    await new Promise<void>((resolve) => listener.listen(0, net.gateway, resolve));
    const port = (listener.address() as { port: number }).port;
    const first = await net.attach(1);
    const veth = `ssvt${process.pid % 100000}`;
    try {
      // from inside the instance's namespace (its ARP cache learns the gateway's MAC); async: the listener is ours
      const dial = () =>
        new Promise<string>((resolve) =>
          execFile(
            "ip",
            [
              "netns",
              "exec",
              first.name,
              "timeout",
              "3",
              "bash",
              "-c",
              `exec 3<>/dev/tcp/${net.gateway}/${port} && head -1 <&3`,
            ],
            { encoding: "utf8" },
            (err, stdout) => resolve(err ? `failed: ${err.message}` : stdout.trim()),
          ),
        );
      expect(await dial()).toBe("here");
      const mac = () => (JSON.parse(ip("-j", "link", "show", net.bridge)) as { address: string }[])[0].address;
      const before = mac();
      // a port with the lowest MAC there is joins (as any instance's link may): a bridge left to itself would take it
      ip("link", "add", veth, "address", "00:00:00:00:00:01", "type", "veth", "peer", "name", `${veth}p`);
      ip("link", "set", veth, "master", net.bridge, "up");
      expect(mac()).toBe(before);
      expect(await dial()).toBe("here");
      expect(await dial()).toBe("here");
    } finally {
      listener.close();
      await net.detach(first.name);
      try {
        ip("link", "del", veth);
      } catch {}
    }
  });

  it("an instance's link carries no IPv6 of its own: one joining sends nothing to the ports of the others", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "ss-net-"));
    const net = await InstanceNetwork.setup(dir);
    made.push({ net, dir });
    const attached = [await net.attach(1), await net.attach(2)];
    try {
      const inNs = (ns: string, ...args: string[]) => ip("netns", "exec", ns, "ip", ...args);
      const addrs = (json: string) =>
        (JSON.parse(json) as { addr_info?: unknown[] }[]).flatMap((l) => l.addr_info ?? []);
      expect(addrs(inNs(attached[0].name, "-j", "-6", "addr", "show", "dev", "eth0"))).toEqual([]);
      expect(addrs(ip("-j", "-6", "addr", "show", "master", net.bridge))).toEqual([]);
      expect(addrs(ip("-j", "-6", "addr", "show", "dev", net.bridge))).toEqual([]);
      // what the namespace's one `ip` batch set up: its loopback up, its address, and any port open to its recipes
      const lo = JSON.parse(inNs(attached[0].name, "-j", "link", "show", "lo")) as { flags: string[] }[];
      expect(lo[0].flags).toContain("UP");
      expect(inNs(attached[0].name, "-4", "-o", "addr", "show", "dev", "eth0")).toContain(`${attached[0].address}/22`);
      const portStart = ["netns", "exec", attached[0].name, "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"];
      expect(execFileSync("ip", portStart, { encoding: "utf8" }).trim()).toBe("0");
      const received = () =>
        (
          JSON.parse(inNs(attached[0].name, "-j", "-s", "link", "show", "dev", "eth0")) as {
            stats64: { rx: { packets: number } };
          }[]
        )[0].stats64.rx.packets;
      const before = received();
      attached.push(await net.attach(3));
      // an IPv6 link's duplicate detection and listener report go out within a second of it coming up
      await new Promise((r) => setTimeout(r, 1500));
      expect(received()).toBe(before);
      // and IPv4 between instances works as before: the new one reaches a listener of the first by its address
      const listener = spawn(
        "ip",
        ["netns", "exec", attached[0].name, process.execPath, "-e", LISTENER, attached[0].address],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      try {
        await new Promise((resolve) => listener.stdout.once("data", resolve));
        const dialled = execFileSync(
          "ip",
          ["netns", "exec", attached[2].name, "timeout", "3", "bash", "-c", DIAL(attached[0].address)],
          { encoding: "utf8" },
        );
        expect(dialled.trim()).toBe("here");
      } finally {
        listener.kill();
      }
    } finally {
      for (const a of attached) await net.detach(a.name);
    }
  });

  it("a killed server's claim, no instance left on its bridge, is taken by the next server there; its bridge goes", async () => {
    const first = mkdtempSync(path.join(os.tmpdir(), "ss-net-"));
    const killed = await InstanceNetwork.setup(first);
    made.push({ net: killed, dir: first });
    const block = blockOf(killed);
    const claim = JSON.parse(readFileSync(claimFile(block), "utf8"));
    expect(claim).toEqual({ dataDir: first, bridge: killed.bridge, pid: process.pid });
    // as a server killed with kill -9 leaves it: its data directory kept, its claim and bridge in place
    writeFileSync(claimFile(block), JSON.stringify({ ...claim, pid: deadPid() }));
    const second = dataDirStartingAt(block);
    const next = await InstanceNetwork.setup(second);
    made.push({ net: next, dir: path.dirname(second) });
    expect(next.gateway).toBe(killed.gateway);
    expect(existsSync(`/sys/class/net/${killed.bridge}`)).toBe(false);
    expect(JSON.parse(readFileSync(claimFile(block), "utf8"))).toEqual({
      dataDir: second,
      bridge: next.bridge,
      pid: process.pid,
    });
  });

  it("a claim is kept while its server lives, or while an instance is on its bridge, even when the server is gone", async () => {
    const first = mkdtempSync(path.join(os.tmpdir(), "ss-net-"));
    const owner = await InstanceNetwork.setup(first);
    made.push({ net: owner, dir: first });
    const block = blockOf(owner);
    const second = dataDirStartingAt(block);
    const beside = await InstanceNetwork.setup(second);
    made.push({ net: beside, dir: path.dirname(second) });
    expect(beside.gateway).not.toBe(owner.gateway);
    await beside.close();

    const attached = await owner.attach(1);
    try {
      const claim = JSON.parse(readFileSync(claimFile(block), "utf8"));
      writeFileSync(claimFile(block), JSON.stringify({ ...claim, pid: deadPid() }));
      const third = dataDirStartingAt(block);
      const other = await InstanceNetwork.setup(third);
      made.push({ net: other, dir: path.dirname(third) });
      expect(other.gateway).not.toBe(owner.gateway);
      expect(existsSync(`/sys/class/net/${owner.bridge}`)).toBe(true);
      expect(JSON.parse(readFileSync(claimFile(block), "utf8")).dataDir).toBe(first);
    } finally {
      await owner.detach(attached.name);
    }
  });

  it("a bridge of ours that no claim holds, no instance on it, is removed by the server that takes its block", async () => {
    const first = mkdtempSync(path.join(os.tmpdir(), "ss-net-"));
    const lost = await InstanceNetwork.setup(first);
    made.push({ net: lost, dir: first });
    const block = blockOf(lost);
    rmSync(claimFile(block));
    const second = dataDirStartingAt(block);
    const next = await InstanceNetwork.setup(second);
    made.push({ net: next, dir: path.dirname(second) });
    expect(next.gateway).toBe(lost.gateway);
    expect(existsSync(`/sys/class/net/${lost.bridge}`)).toBe(false);
  });
});
