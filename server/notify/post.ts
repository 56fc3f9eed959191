import dns from "node:dns";
import http from "node:http";
import https from "node:https";
import { BlockList, isIP } from "node:net";

/**
 * Addresses a member's webhook may not reach unless the server's operator says so: loopback, private networks,
 * link-local (cloud metadata services live there), carrier-grade NAT and the unspecified addresses. A webhook URL is
 * chosen by any member; without this it would be a way to make the server call its own neighbours.
 */
const PRIVATE = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.168.0.0", 16],
] as const) {
  PRIVATE.addSubnet(net, bits, "ipv4");
}
for (const [net, bits] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
] as const) {
  PRIVATE.addSubnet(net, bits, "ipv6");
}

/** `SLIPSTREAM_WEBHOOKS_PRIVATE=allow`: receivers on private networks are fine (a server inside a company network). */
export const privateAllowed = () => process.env.SLIPSTREAM_WEBHOOKS_PRIVATE === "allow";

/** Why a receiver at `address` is not called, or null when it may be. */
function refusal(address: string, name: string): string | null {
  if (privateAllowed() || !isPrivateAddress(address)) return null;
  const what = name === address ? address : `${name} resolves to ${address}, which`;
  return `${what} is a private address; webhooks reach public addresses only (an operator can allow private ones with SLIPSTREAM_WEBHOOKS_PRIVATE=allow)`;
}

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  // an IPv4 address written as IPv6 (::ffff:127.0.0.1) is the IPv4 one
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return PRIVATE.check(mapped[1], "ipv4");
  return PRIVATE.check(address, family === 6 ? "ipv6" : "ipv4");
}

/**
 * The address check sits in the connection's own lookup: the address checked is the one connected to, so a name that
 * resolves to a public address when checked and a private one when used (DNS rebinding) gets nowhere.
 */
const guardedLookup: typeof dns.lookup = ((
  hostname: string,
  options: dns.LookupOptions,
  callback: (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void,
) => {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, "", 0);
    const list = addresses as dns.LookupAddress[];
    const refused = list.map((a) => refusal(a.address, hostname)).find((r) => r !== null);
    if (refused) {
      const e = new Error(refused) as NodeJS.ErrnoException;
      e.code = "EPRIVATE";
      return callback(e, "", 0);
    }
    if (options.all) return callback(null, list);
    callback(null, list[0].address, list[0].family);
  });
}) as typeof dns.lookup;

export interface PostAnswer {
  status: number;
  statusText: string;
  location: string | null;
}

/** One POST, no redirect followed, its body read and dropped; rejects on a network error, a refused address or abort. */
export function postOnce(
  url: string,
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
): Promise<PostAnswer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    // an address literal is not looked up: it is checked here
    const literal = u.hostname.replace(/^\[|\]$/g, "");
    const refused = isIP(literal) ? refusal(literal, literal) : null;
    if (refused) {
      reject(new Error(refused));
      return;
    }
    const send = u.protocol === "https:" ? https.request : http.request;
    const req = send(
      u,
      {
        method: "POST",
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
        lookup: guardedLookup,
        signal,
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? "",
            location: typeof res.headers.location === "string" ? res.headers.location : null,
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
