import { isIPv6 } from "node:net";
import { SlipError } from "../../protocol/errors.js";

/** One sign-in attempt, counted from before its password is checked; `succeed` or `cancel` takes it back. */
interface LoginAttempt {
  readonly username: string;
  readonly ip: string;
  readonly at: number;
  /** the user-wide slot for new addresses this attempt took, and what it was before (restored by `cancel`) */
  readonly slot?: { before: number | undefined };
}

interface ThrottleLimits {
  /** failures for one username from one address */
  max: number;
  /** failures from one address, whatever the usernames (guessing many accounts, or a hashing flood) */
  maxPerAddress: number;
  /** failures for one username from every address, past which new addresses are slowed down */
  maxPerUser: number;
  windowMs: number;
  /** past `maxPerUser`: one attempt per this long for that username from addresses it never signed in from */
  newAddressSpacingMs: number;
  /** how long a successful sign-in makes its address known for that username */
  knownForMs: number;
}

const DEFAULTS: ThrottleLimits = {
  max: 5,
  maxPerAddress: 30,
  maxPerUser: 50,
  windowMs: 15 * 60_000,
  newAddressSpacingMs: 10_000,
  knownForMs: 30 * 86_400_000,
};

/**
 * The address a limit is kept for: an IPv6 client usually holds a whole /64, so its addresses count as one.
 * IPv4-mapped IPv6 (`::ffff:10.0.0.1`) is the IPv4 address.
 */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  if (!isIPv6(ip)) return ip;
  const [head, tail = ""] = ip.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = ip.includes("::") ? (tail ? tail.split(":") : []) : [];
  const groups = ip.includes("::") ? [...left, ...Array(8 - left.length - right.length).fill("0"), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

/**
 * Failed sign-in throttling, in memory (a restart forgets it). An attempt counts as a failure from the moment it
 * starts, before the (slow) password check, so simultaneous guesses cannot all slip past a limit; a right password
 * takes its attempt back. Over a sliding `windowMs` (15 min):
 * - `max` (5) failures for one username from one address: that pair answers 429, right password or not, until
 *   the oldest failure leaves the window. Other usernames and addresses are not affected.
 * - `maxPerAddress` (30) failures from one address for any usernames: that address answers 429. This bounds the
 *   password hashing one address can cause (a flood of random usernames) and password spraying.
 * - `maxPerUser` (50) failures for one username from any addresses: no lock. Addresses that username signed in
 *   from in the last 30 days are not affected at all; other addresses get one attempt per 10 s for that username,
 *   together. An attacker can thus slow a user's first sign-in from a new place, never lock them out from where
 *   they work, and from one address they cannot even do that (the pair limit stops them at 5).
 */
export class LoginThrottle {
  private readonly byPair = new Map<string, number[]>();
  private readonly byAddress = new Map<string, number[]>();
  private readonly byUser = new Map<string, number[]>();
  /** last successful sign-in per username+address */
  private readonly known = new Map<string, number>();
  /** per username: when the next attempt from a new address may start */
  private readonly newAddressSlot = new Map<string, number>();
  readonly limits: ThrottleLimits;
  /** the clock; tests move it */
  now: () => number = () => Date.now();

  constructor(limits: Partial<ThrottleLimits> = {}) {
    this.limits = { ...DEFAULTS, ...limits };
  }

  private pairKey(username: string, ip: string): string {
    return `${username}\u0000${addressKey(ip)}`;
  }

  private recent(map: Map<string, number[]>, key: string): number[] {
    const since = this.now() - this.limits.windowMs;
    const list = (map.get(key) ?? []).filter((t) => t > since);
    if (list.length) map.set(key, list);
    else map.delete(key);
    return list;
  }

  private refuse(message: string, until: number): never {
    const retry = Math.max(1, Math.ceil((until - this.now()) / 1000));
    throw new SlipError("TOO_MANY_REQUESTS", `${message}; try again in ${retry} s`);
  }

  /** True when this username signed in from this address recently: the per-username limit spares it. */
  isKnown(username: string, ip: string): boolean {
    const at = this.known.get(this.pairKey(username, ip));
    return at !== undefined && this.now() - at < this.limits.knownForMs;
  }

  /**
   * Throws TOO_MANY_REQUESTS when an attempt may not start now; otherwise says whether it takes the username's
   * slot for new addresses.
   */
  private admit(username: string, ip: string): boolean {
    const { max, maxPerAddress, maxPerUser, windowMs } = this.limits;
    const pair = this.recent(this.byPair, this.pairKey(username, ip));
    if (pair.length >= max)
      this.refuse(`too many failed sign-ins for '${username}' from your address`, pair[0] + windowMs);
    const address = this.recent(this.byAddress, addressKey(ip));
    if (address.length >= maxPerAddress) {
      this.refuse("too many failed sign-ins from your address", address[0] + windowMs);
    }
    if (this.isKnown(username, ip)) return false;
    if (this.recent(this.byUser, username).length < maxPerUser) return false;
    const slot = this.newAddressSlot.get(username) ?? 0;
    if (this.now() < slot) {
      this.refuse(`many failed sign-ins for '${username}' from elsewhere: new addresses are slowed down`, slot);
    }
    return true;
  }

  /** Throws TOO_MANY_REQUESTS while an attempt for this username from this address would be refused. */
  check(username: string, ip: string): void {
    this.admit(username, ip);
  }

  /**
   * Checks and counts one attempt at once (synchronously, so concurrent attempts see each other): call it before
   * verifying the password, then `succeed` when the password was right, or `cancel` when it was never checked.
   */
  attempt(username: string, ip: string): LoginAttempt {
    const takesSlot = this.admit(username, ip);
    let slot: LoginAttempt["slot"];
    if (takesSlot) {
      slot = { before: this.newAddressSlot.get(username) };
      this.newAddressSlot.set(username, this.now() + this.limits.newAddressSpacingMs);
    }
    return { ...this.record(username, ip), slot };
  }

  /** Records a failure that was not counted by `attempt`. */
  fail(username: string, ip: string): void {
    this.record(username, ip);
  }

  private record(username: string, ip: string): LoginAttempt {
    const at = this.now();
    this.push(this.byPair, this.pairKey(username, ip), at);
    this.push(this.byAddress, addressKey(ip), at);
    this.push(this.byUser, username, at);
    return { username, ip, at };
  }

  /**
   * A right password: its own attempt is taken back, the failures of that username+address are cleared, and the
   * address becomes known for that username.
   */
  succeed(attempt: LoginAttempt): void {
    const key = this.pairKey(attempt.username, attempt.ip);
    this.byPair.delete(key);
    this.takeBack(this.byAddress, addressKey(attempt.ip), attempt.at);
    this.takeBack(this.byUser, attempt.username, attempt.at);
    this.known.delete(key);
    this.known.set(key, this.now());
    if (this.known.size > 100_000) this.known.delete(this.known.keys().next().value as string);
  }

  /** An attempt whose password was never checked (the server was too busy): it counts for nothing. */
  cancel(attempt: LoginAttempt): void {
    this.takeBack(this.byPair, this.pairKey(attempt.username, attempt.ip), attempt.at);
    this.takeBack(this.byAddress, addressKey(attempt.ip), attempt.at);
    this.takeBack(this.byUser, attempt.username, attempt.at);
    if (attempt.slot) {
      if (attempt.slot.before === undefined) this.newAddressSlot.delete(attempt.username);
      else this.newAddressSlot.set(attempt.username, attempt.slot.before);
    }
  }

  private takeBack(map: Map<string, number[]>, key: string, at: number): void {
    const list = map.get(key);
    const i = list?.indexOf(at) ?? -1;
    if (!list || i < 0) return;
    list.splice(i, 1);
    if (!list.length) map.delete(key);
  }

  private push(map: Map<string, number[]>, key: string, at: number): void {
    const list = this.recent(map, key);
    list.push(at);
    map.set(key, list);
    // bound memory under a flood of distinct usernames
    if (map.size > 100_000) map.delete(map.keys().next().value as string);
  }
}
