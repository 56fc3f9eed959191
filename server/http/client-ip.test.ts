import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { clientIp, trustedProxyHops } from "./client-ip.js";

const req = (peer: string, xff?: string | string[]) =>
  ({
    socket: { remoteAddress: peer },
    headers: xff === undefined ? {} : { "x-forwarded-for": xff },
  }) as IncomingMessage;

describe("clientIp", () => {
  it("is the connection's peer unless proxies are trusted, whatever the headers say", () => {
    expect(clientIp(req("10.0.0.5", "6.6.6.6"), 0)).toBe("10.0.0.5");
  });

  it("behind one trusted proxy is the address that proxy appended, not what the client sent before it", () => {
    expect(clientIp(req("127.0.0.1", "203.0.113.9"), 1)).toBe("203.0.113.9");
    // the client sent `X-Forwarded-For: 6.6.6.6`; nginx appended the real peer
    expect(clientIp(req("127.0.0.1", "6.6.6.6, 203.0.113.9"), 1)).toBe("203.0.113.9");
    expect(clientIp(req("127.0.0.1", ["6.6.6.6", "203.0.113.9"]), 1)).toBe("203.0.113.9");
    // two proxies (a CDN, then nginx): the CDN's view of the client
    expect(clientIp(req("127.0.0.1", "6.6.6.6, 203.0.113.9, 198.51.100.1"), 2)).toBe("203.0.113.9");
    // a proxy that sent no header: the peer
    expect(clientIp(req("127.0.0.1"), 1)).toBe("127.0.0.1");
  });

  it("TRUST_PROXY is a number of proxies; anything else stops the server at startup", () => {
    expect(trustedProxyHops(undefined)).toBe(0);
    expect(trustedProxyHops("")).toBe(0);
    expect(trustedProxyHops("0")).toBe(0);
    expect(trustedProxyHops("1")).toBe(1);
    expect(() => trustedProxyHops("yes")).toThrow(/TRUST_PROXY: 'yes' is not a number of proxies/);
  });
});
