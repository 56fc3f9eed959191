import { describe, expect, it } from "vitest";
import { ExecError, redactedError } from "./exec-error.js";
import { HostPool } from "./host-pool.js";
import { sshMachineId } from "./machine-id.js";

const host = (address: string, port: number, maxInstances: number) => ({ address, port, username: "u", maxInstances });

describe("HostPool", () => {
  it("places instances on the first host with room, counting recorded machines and starts in progress", () => {
    let recorded: string[] = [];
    const pool = new HostPool([host("10.0.0.1", 22, 2), host("10.0.0.2", 2222, 1)], () => recorded);
    const [a, b] = pool.slots;
    expect(pool.pick()).toBe(a);
    a.pending++;
    a.machines.add(sshMachineId(a.host, 10));
    expect(pool.pick()).toBe(b);
    // a surviving run's machine on b (recorded in the instances table), and one on a this connector already counts
    recorded = [sshMachineId(b.host, 7), sshMachineId(a.host, 10), "ssh-[10.9.9.9]:22-1"];
    expect(pool.pick()).toBeUndefined();
    a.pending--;
    expect(pool.pick()).toBe(a);
  });

  it("finds a host by address and port, and an id from before ports were in ids by its address", () => {
    const pool = new HostPool([host("h", 2222, 1), host("h", 22, 1)]);
    expect(pool.slotFor("h", 2222)?.host.port).toBe(2222);
    expect(pool.slotFor("h", undefined)?.host.port).toBe(22);
    expect(pool.slotFor("other", 22)).toBeUndefined();
  });

  it("copies the hosts it is given (host keys are pinned into the copies)", () => {
    const given = host("h", 22, 1);
    const pool = new HostPool([given]);
    pool.slots[0].host.hostKey = "SHA256:x";
    expect(given).not.toHaveProperty("hostKey");
  });
});

describe("ExecError", () => {
  it("keeps what failed where, with every text it carries redacted", () => {
    const err = new ExecError("host h: cannot add keys: pw=secret", {
      host: "h",
      command: "echo secret",
      exitCode: 1,
      stderr: "secret denied",
    });
    const r = redactedError(err, (s) => s.replaceAll("secret", "***"));
    expect(r).toMatchObject({
      message: "host h: cannot add keys: pw=***",
      host: "h",
      command: "echo ***",
      exitCode: 1,
      stderr: "*** denied",
    });
    expect(redactedError(new Error("secret"), (s) => s.replaceAll("secret", "***")).message).toBe("***");
    expect(redactedError("secret", (s) => s.replaceAll("secret", "***")).message).toBe("***");
  });
});
