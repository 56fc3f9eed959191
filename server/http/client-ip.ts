import type { IncomingMessage } from "node:http";

/**
 * How many reverse proxies in front of the server to believe (`TRUST_PROXY`): unset or 0 believes none, 1 one proxy
 * (nginx, Caddy…) on the way in. Anything else is a startup error, not a silent guess.
 */
export function trustedProxyHops(value: string | undefined): number {
  if (value === undefined || value.trim() === "") return 0;
  if (!/^\d{1,2}$/.test(value.trim())) {
    throw new Error(
      `TRUST_PROXY: '${value}' is not a number of proxies (1: one reverse proxy in front; 0 or unset: none)`,
    );
  }
  return Number(value.trim());
}

/**
 * The client's address, for sign-in throttling. Without trusted proxies it is the connection's peer, whatever the
 * headers say. Behind `hops` trusted proxies it is the address the outermost of them saw: each proxy appends its
 * peer to `X-Forwarded-For`, so the entry `hops` from the right. Entries left of it are whatever the client sent,
 * and believing them would let one client pose as many addresses and slip past every per-address limit.
 */
export function clientIp(req: IncomingMessage, hops: number): string {
  const peer = req.socket.remoteAddress ?? "unknown";
  if (hops <= 0) return peer;
  const header = req.headers["x-forwarded-for"];
  const list = (Array.isArray(header) ? header.join(",") : (header ?? ""))
    .split(",")
    .map((a) => a.trim())
    .filter(Boolean);
  if (!list.length) return peer;
  return list[Math.max(0, list.length - hops)];
}

/** The client's address as the server trusts it (TRUST_PROXY hops), for sign-in throttling. */
export type IpOf = (req: IncomingMessage) => string;
