import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Secrets } from "./secrets.js";

describe("secrets at rest", () => {
  it("generates a 0600 key on first start and reuses it", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-secrets-"));
    const a = await Secrets.load(dir, undefined);
    const sealed = a.seal("hunter2-password");
    expect(sealed).not.toContain("hunter2");
    expect((await fs.stat(path.join(dir, "secret.key"))).mode & 0o777).toBe(0o600);
    const b = await Secrets.load(dir, undefined);
    expect(b.open(sealed)).toBe("hunter2-password");
  });
  it("refuses a tampered ciphertext and a wrong key", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-secrets-"));
    const a = await Secrets.load(dir, undefined);
    const sealed = a.seal("secret-value");
    const parts = sealed.split(":");
    parts[3] = Buffer.from("tampered!!!!").toString("base64");
    expect(() => a.open(parts.join(":"))).toThrow();
    const other = await Secrets.load(dir, Buffer.alloc(32, 7).toString("base64"));
    expect(() => other.open(sealed)).toThrow();
  });
  it("redacts opened secrets, line by line for keys", async () => {
    const s = await Secrets.load(await fs.mkdtemp(path.join(os.tmpdir(), "ss-secrets-")), undefined);
    const pem = "-----BEGIN KEY-----\nAAAABBBBCCCCDDDDEEEEFFFF\n-----END KEY-----";
    s.open(s.seal(pem));
    expect(s.redact("log: AAAABBBBCCCCDDDDEEEEFFFF here")).toBe("log: [redacted] here");
    expect(() => Secrets.load("/nonexistent", "short")).rejects.toThrow(/32 bytes/);
  });
});
