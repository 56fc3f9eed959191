import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
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
});
