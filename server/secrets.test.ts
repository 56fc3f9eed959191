import fs from "node:fs/promises";
import path from "node:path";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "./log.js";
import { Secrets } from "./secrets.js";
import { startTestServer } from "./testing/harness.js";
import { testTempDir } from "./testing/temp-dirs.js";

describe("secrets at rest", () => {
  it("generates a 0600 key on first start and reuses it", async () => {
    const dir = await testTempDir("ss-secrets-");
    const a = await Secrets.load(dir, undefined);
    const sealed = a.seal("hunter2-password");
    expect(sealed).not.toContain("hunter2");
    expect((await fs.stat(path.join(dir, "secret.key"))).mode & 0o777).toBe(0o600);
    const b = await Secrets.load(dir, undefined);
    expect(b.open(sealed)).toBe("hunter2-password");
  });
  it("refuses a tampered ciphertext and a wrong key", async () => {
    const dir = await testTempDir("ss-secrets-");
    const a = await Secrets.load(dir, undefined);
    const sealed = a.seal("secret-value");
    const parts = sealed.split(":");
    parts[3] = Buffer.from("tampered!!!!").toString("base64");
    expect(() => a.open(parts.join(":"))).toThrow();
    const other = await Secrets.load(dir, Buffer.alloc(32, 7).toString("base64"));
    expect(() => other.open(sealed)).toThrow();
  });
  it("redacts opened secrets, line by line for keys", async () => {
    const s = await Secrets.load(await testTempDir("ss-secrets-"), undefined);
    const pem = "-----BEGIN KEY-----\nAAAABBBBCCCCDDDDEEEEFFFF\n-----END KEY-----";
    s.open(s.seal(pem));
    expect(s.redact("log: AAAABBBBCCCCDDDDEEEEFFFF here")).toBe("log: [redacted] here");
    await expect(Secrets.load("/nonexistent", "short")).rejects.toThrow(/32 bytes/);
  });
});

describe("credentials in logs", () => {
  it("the server's logger writes credential-looking fields as [Redacted], at any depth our log calls use", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(...chunk.toString().split("\n").filter(Boolean));
        done();
      },
    });
    const log = createLogger({ level: "info", destination: sink });
    log.info({ password: "pw-top-level", token: "ss_token_value", run: "r1" }, "top");
    log.info({ host: { address: "10.0.0.5", privateKey: "-----BEGIN KEY-----x" } }, "nested");
    log.error(
      { req: { url: "/api/me", headers: { authorization: "Bearer ss_abc", cookie: "ss_session=abc" } } },
      "deep",
    );
    log.info({ cloud: { hosts: [{ address: "h", password: "pw-in-array" }] } }, "array");
    await new Promise((r) => setImmediate(r));
    const [top, nested, deep, array] = lines.map((l) => JSON.parse(l));
    expect(top).toMatchObject({ password: "[Redacted]", token: "[Redacted]", run: "r1", msg: "top" });
    expect(nested.host).toEqual({ address: "10.0.0.5", privateKey: "[Redacted]" });
    expect(deep.req).toEqual({ url: "/api/me", headers: { authorization: "[Redacted]", cookie: "[Redacted]" } });
    expect(array.cloud.hosts[0]).toEqual({ address: "h", password: "[Redacted]" });
    for (const secret of ["pw-top-level", "ss_token_value", "BEGIN KEY", "ss_abc", "ss_session", "pw-in-array"])
      expect(lines.join("\n")).not.toContain(secret);
  });

  it("a cloud password too short to redact safely is refused, naming the field; 8 characters are redacted", async () => {
    const s = await startTestServer();
    try {
      const res = await s.api<{ error: { code: string; message: string } }>("POST", "/api/clouds", {
        name: "short",
        hosts: [{ address: "10.0.0.5", username: "u", password: "1234567" }],
      });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/hosts\[0\]\.password: .*8 characters/);
      expect(s.app.db.$client.prepare("select count(*) as n from clouds where name = 'short'").get()).toEqual({ n: 0 });
      const ok = await s.api("POST", "/api/clouds", {
        name: "eight",
        hosts: [{ address: "10.0.0.5", username: "u", password: "8chars!!" }],
      });
      expect(ok.status, JSON.stringify(ok.body)).toBe(201);
      expect(s.app.secrets.redact("sshpass -p 8chars!! ssh u@10.0.0.5")).toBe("sshpass -p [redacted] ssh u@10.0.0.5");
    } finally {
      await s.close();
    }
  });
});
