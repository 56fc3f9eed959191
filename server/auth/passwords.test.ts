import { randomBytes, scryptSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SlipError } from "../../protocol/errors.js";
import { DUMMY_HASH, HashingGate, hashPassword, needsRehash, SCRYPT, verifyPassword } from "./passwords.js";

/** A hash as this server stored them before OWASP's parameters: N=2^15. */
function legacyHash(password: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${2 ** 15}$8$1$${salt.toString("base64")}$${hash.toString("base64")}`;
}

describe("password hashes", () => {
  it("are made with OWASP's scrypt parameters (N=2^17, r=8, p=1), and the dummy hash uses them too", async () => {
    expect(SCRYPT).toEqual({ N: 131072, r: 8, p: 1 });
    const stored = await hashPassword("correct horse");
    expect(stored).toMatch(/^scrypt\$131072\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    expect(needsRehash(stored)).toBe(false);
    expect(await verifyPassword("correct horse", stored)).toBe(true);
    expect(await verifyPassword("wrong horse", stored)).toBe(false);
    expect(DUMMY_HASH.split("$").slice(0, 4)).toEqual(["scrypt", "131072", "8", "1"]);
    expect(await verifyPassword("anything", DUMMY_HASH)).toBe(false);
  });

  it("made with older parameters still verify with their own, and ask to be rehashed", async () => {
    const old = legacyHash("correct horse");
    expect(await verifyPassword("correct horse", old)).toBe(true);
    expect(await verifyPassword("wrong", old)).toBe(false);
    expect(needsRehash(old)).toBe(true);
  });

  it("with absurd or broken parameters are refused, never computed", async () => {
    const salt = Buffer.alloc(16).toString("base64");
    const hash = Buffer.alloc(32).toString("base64");
    for (const stored of [
      `scrypt$${2 ** 30}$8$1$${salt}$${hash}`,
      `scrypt$1000$8$1$${salt}$${hash}`,
      `scrypt$16384$0$1$${salt}$${hash}`,
      `scrypt$16384$8$99$${salt}$${hash}`,
      "bcrypt$whatever",
      "scrypt$16384",
    ]) {
      expect(await verifyPassword("x", stored), stored).toBe(false);
      expect(needsRehash(stored)).toBe(true);
    }
  });
});

describe("HashingGate", () => {
  const gated = () => {
    let release!: () => void;
    const done = new Promise<void>((r) => {
      release = r;
    });
    return { work: () => done.then(() => "hashed"), release };
  };

  it("runs two at a time, queues a bounded number, and refuses the rest at once", async () => {
    const gate = new HashingGate(2, 3);
    const jobs = Array.from({ length: 5 }, gated);
    const results = jobs.map((j) => gate.run(j.work, { bounded: true }));
    expect(gate.load).toEqual({ running: 2, queued: 3 });
    const refused = gate.run(async () => "never", { bounded: true });
    await expect(refused).rejects.toThrow(SlipError);
    await expect(refused).rejects.toThrow("too many sign-ins in progress; retry in a moment");
    // work that is not a sign-in (an admin creating a user) waits rather than being refused
    const admin = gated();
    const adminResult = gate.run(admin.work);
    expect(gate.load).toEqual({ running: 2, queued: 4 });
    for (const j of [...jobs, admin]) j.release();
    expect(await Promise.all([...results, adminResult])).toEqual(Array(6).fill("hashed"));
    expect(gate.load).toEqual({ running: 0, queued: 0 });
  });

  it("serves urgent work (a sign-in from a known address) before the queue", async () => {
    const gate = new HashingGate(1, 8);
    const order: string[] = [];
    const first = gated();
    const running = gate.run(first.work);
    const queued = ["a", "b", "c"].map((name) =>
      gate.run(async () => {
        order.push(name);
      }),
    );
    const urgent = gate.run(
      async () => {
        order.push("urgent");
      },
      { urgent: true },
    );
    first.release();
    await Promise.all([running, ...queued, urgent]);
    expect(order).toEqual(["urgent", "a", "b", "c"]);
  });

  it("frees the slot when the work throws", async () => {
    const gate = new HashingGate(1, 0);
    await expect(gate.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await gate.run(async () => "ok", { bounded: true })).toBe("ok");
  });
});
