import { describe, expect, it } from "vitest";
import { sshKeyProblem } from "../../protocol/api.js";
import { SlipError } from "../../protocol/errors.js";
import { addressKey, LoginThrottle } from "./throttle.js";

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
  it("30 failures from one address, whatever the usernames, refuse that address only", () => {
    const t = new LoginThrottle();
    for (let i = 0; i < 30; i++) t.attempt(`user${i}`, "10.0.0.1");
    expect(() => t.attempt("someone-new", "10.0.0.1")).toThrow(/too many failed sign-ins from your address/);
    expect(() => t.attempt("someone-new", "10.0.0.2")).not.toThrow();
  });

  it("50 failures for a username from many addresses lock nobody out: known addresses pass, new ones are slowed", () => {
    const t = new LoginThrottle();
    let now = 1_000_000;
    t.now = () => now;
    // ann signed in from her desk before
    t.succeed(t.attempt("ann", "10.1.1.1"));
    for (let a = 0; a < 10; a++) for (let i = 0; i < 5; i++) t.attempt("ann", `10.0.${a}.1`);
    // from her desk: no limit but her own address's
    for (let i = 0; i < 4; i++) expect(() => t.attempt("ann", "10.1.1.1")).not.toThrow();
    // from a new address: one attempt at a time for the whole username, every 10 s
    const first = t.attempt("ann", "10.9.9.9");
    expect(() => t.attempt("ann", "10.8.8.8")).toThrow(/new addresses are slowed down; try again in 10 s/);
    now += 10_000;
    expect(() => t.attempt("ann", "10.8.8.8")).not.toThrow();
    // the right password from a new address makes it known: no slowing down there any more
    now += 10_000;
    t.succeed(first);
    expect(() => t.attempt("ann", "10.9.9.9")).not.toThrow();
    expect(() => t.attempt("ann", "10.9.9.9")).not.toThrow();
    // other usernames are not affected
    expect(() => t.attempt("bob", "10.7.7.7")).not.toThrow();
  });

  it("one address cannot push a username past the per-username limit (PoC 08)", () => {
    const t = new LoginThrottle();
    for (let i = 0; i < 50; i++) {
      try {
        t.attempt("admin", "10.6.6.6");
      } catch (err) {
        expect((err as SlipError).code).toBe("TOO_MANY_REQUESTS");
      }
    }
    expect(() => t.attempt("admin", "10.6.6.6")).toThrow(/from your address/);
    // from anywhere else: not even slowed down
    expect(() => t.attempt("admin", "10.5.5.5")).not.toThrow();
    expect(() => t.attempt("admin", "10.5.5.4")).not.toThrow();
  });

  it("an attempt cancelled before its password was checked counts for nothing, and gives back its slot", () => {
    const t = new LoginThrottle({ maxPerUser: 2 });
    t.attempt("ann", "10.0.0.1");
    t.attempt("ann", "10.0.0.2");
    const busy = t.attempt("ann", "10.0.0.3");
    t.cancel(busy);
    expect(() => t.attempt("ann", "10.0.0.4")).not.toThrow();
    const u = new LoginThrottle();
    const pending = Array.from({ length: 4 }, () => u.attempt("cy", "10.0.0.9"));
    for (const p of pending) u.cancel(p);
    for (let i = 0; i < 5; i++) expect(() => u.attempt("cy", "10.0.0.9")).not.toThrow();
  });

  it("keeps IPv6 clients by /64 and IPv4-mapped addresses as IPv4", () => {
    expect(addressKey("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:db8:1:2:ffff:ffff:ffff:ffff")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
    expect(addressKey("::ffff:10.0.0.1")).toBe("10.0.0.1");
    expect(addressKey("10.0.0.1")).toBe("10.0.0.1");
    const t = new LoginThrottle();
    for (let i = 0; i < 5; i++) t.attempt("ann", `2001:db8:1:2::${i + 1}`);
    expect(() => t.attempt("ann", "2001:db8:1:2::99")).toThrow(/from your address/);
    expect(() => t.attempt("ann", "2001:db8:1:3::1")).not.toThrow();
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
