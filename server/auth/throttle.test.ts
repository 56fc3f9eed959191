import { describe, expect, it } from "vitest";
import { sshKeyProblem } from "../../protocol/api.js";
import { SlipError } from "../../protocol/errors.js";
import { LoginThrottle } from "./throttle.js";

describe("LoginThrottle", () => {
  it("locks a username+address after 5 failures in 15 minutes, and only that pair", () => {
    const t = new LoginThrottle();
    let now = 1_000_000;
    t.now = () => now;
    for (let i = 0; i < 5; i++) {
      t.check("ann", "10.0.0.1");
      t.fail("ann", "10.0.0.1");
      now += 1000;
    }
    expect(() => t.check("ann", "10.0.0.1")).toThrow(SlipError);
    try {
      t.check("ann", "10.0.0.1");
    } catch (err) {
      expect((err as SlipError).code).toBe("TOO_MANY_REQUESTS");
    }
    expect(() => t.check("ann", "10.0.0.2")).not.toThrow();
    expect(() => t.check("bob", "10.0.0.1")).not.toThrow();
    // the oldest failure leaves the window: one more try is allowed
    now = 1_000_000 + 15 * 60_000 + 1;
    expect(() => t.check("ann", "10.0.0.1")).not.toThrow();
  });
  it("a success clears the failures", () => {
    const t = new LoginThrottle();
    for (let i = 0; i < 4; i++) t.fail("ann", "ip");
    t.succeed(t.attempt("ann", "ip"));
    for (let i = 0; i < 4; i++) t.fail("ann", "ip");
    expect(() => t.check("ann", "ip")).not.toThrow();
  });
  it("counts an attempt when it starts, so attempts still being verified use up the allowance", () => {
    const t = new LoginThrottle();
    // five attempts in flight, none of them answered yet
    const pending = Array.from({ length: 5 }, () => t.attempt("ann", "ip"));
    expect(() => t.attempt("ann", "ip")).toThrow(/too many failed sign-ins for 'ann'/);
    // the right password on one of them takes its attempt back and clears the pair
    t.succeed(pending[0]);
    expect(() => t.attempt("ann", "ip")).not.toThrow();
  });
  it("locks a username from every address after 50 failures across addresses", () => {
    const t = new LoginThrottle();
    let now = 1_000_000;
    t.now = () => now;
    for (let i = 0; i < 50; i++) {
      t.attempt("ann", `10.0.${i}.1`);
      now += 1;
    }
    for (const ip of ["10.9.9.9", "10.0.0.1"]) {
      try {
        t.attempt("ann", ip);
        expect.unreachable();
      } catch (err) {
        expect((err as SlipError).code).toBe("TOO_MANY_REQUESTS");
      }
    }
    expect(() => t.attempt("bob", "10.9.9.9")).not.toThrow();
    // a success from one address does not clear the failures made from the others
    now = 1_000_000 + 15 * 60_000; // only the first failure has left the window
    t.succeed(t.attempt("ann", "10.9.9.9"));
    expect(() => t.attempt("ann", "10.8.8.8")).not.toThrow();
    expect(() => t.attempt("ann", "10.7.7.7")).toThrow(SlipError);
  });
});

describe("SSH public keys", () => {
  const blob = (type: string, rest = "key-material") => {
    const t = Buffer.from(type);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(t.length);
    return Buffer.concat([len, t, Buffer.from(rest)]).toString("base64");
  };
  it.each([
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
  ])("accepts %s with or without a comment", (type) => {
    expect(sshKeyProblem(`${type} ${blob(type)}`)).toBeNull();
    expect(sshKeyProblem(`${type} ${blob(type)} me@host with spaces`)).toBeNull();
  });
  it.each([
    ["ssh-dss AAAA", /unknown key type/],
    ["ssh-ed25519", /must be/],
    ["ssh-ed25519 !!!!", /not base64/],
    [`ssh-rsa ${blob("ssh-ed25519")}`, /'ssh-ed25519' key, not 'ssh-rsa'/],
    [`ssh-ed25519 ${blob("ssh-ed25519", "")}`, /holds no key/],
    [`ssh-ed25519 ${Buffer.from([0, 0, 1, 0, 65]).toString("base64")}`, /truncated/],
  ])("refuses %s", (line, message) => {
    expect(sshKeyProblem(line)).toMatch(message);
  });
});
