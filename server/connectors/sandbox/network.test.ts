import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { findOnPath } from "./isolation.js";
import { InstanceNetwork } from "./network.js";

const usable = process.getuid?.() === 0 && findOnPath("ip") !== null;
const made: { net: InstanceNetwork; dir: string }[] = [];
afterEach(async () => {
  for (const m of made.splice(0)) {
    await m.net.close();
    rmSync(m.dir, { recursive: true, force: true });
  }
});
const ip = (...args: string[]) => execFileSync("ip", args, { encoding: "utf8" });

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
});
