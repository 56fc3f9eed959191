import { SlipError } from "../../protocol/errors.js";

/** One sign-in attempt, counted from before its password is checked; `succeed` takes it back. */
export interface LoginAttempt {
  readonly username: string;
  readonly ip: string;
  readonly at: number;
}

/**
 * Failed sign-in throttling, in memory (a restart forgets it). An attempt counts as a failure from the moment it
 * starts, before the (slow) password check, so simultaneous guesses cannot all slip past the limit; a right
 * password takes its attempt back and clears that username+address. Two limits, both over a sliding `windowMs`:
 * - `max` (5) failures for one username from one address: every attempt for that pair — right password or not —
 *   answers 429 until the oldest failure leaves the window. Other usernames and other addresses are not affected.
 * - `maxPerUser` (50) failures for one username from any addresses: every attempt for that username answers 429,
 *   from every address, so changing address does not buy unlimited guesses. A sign-in that succeeds does not clear
 *   failures made from other addresses.
 */
export class LoginThrottle {
  /** attempt times per username+address, and per username across addresses */
  private readonly byPair = new Map<string, number[]>();
  private readonly byUser = new Map<string, number[]>();
  /** the clock; tests move it */
  now: () => number = () => Date.now();

  constructor(
    readonly max = 5,
    readonly windowMs = 15 * 60_000,
    readonly maxPerUser = 50,
  ) {}

  private key(username: string, ip: string): string {
    return `${username}\u0000${ip}`;
  }

  private recent(map: Map<string, number[]>, key: string): number[] {
    const since = this.now() - this.windowMs;
    const list = (map.get(key) ?? []).filter((t) => t > since);
    if (list.length) map.set(key, list);
    else map.delete(key);
    return list;
  }

  private refuse(username: string, list: number[]): never {
    const retry = Math.max(1, Math.ceil((list[0] + this.windowMs - this.now()) / 1000));
    throw new SlipError("TOO_MANY_REQUESTS", `too many failed sign-ins for '${username}'; try again in ${retry} s`);
  }

  /** Throws TOO_MANY_REQUESTS while the pair, or the username from every address, is locked out. */
  check(username: string, ip: string): void {
    const pair = this.recent(this.byPair, this.key(username, ip));
    if (pair.length >= this.max) this.refuse(username, pair);
    const user = this.recent(this.byUser, username);
    if (user.length >= this.maxPerUser) this.refuse(username, user);
  }

  /**
   * Checks and counts one attempt at once (synchronously, so concurrent attempts see each other): call it before
   * verifying the password, and `succeed` with its result when the password was right.
   */
  attempt(username: string, ip: string): LoginAttempt {
    this.check(username, ip);
    return this.record(username, ip);
  }

  /** Records a failure that was not counted by `attempt`. */
  fail(username: string, ip: string): void {
    this.record(username, ip);
  }

  private record(username: string, ip: string): LoginAttempt {
    const at = this.now();
    this.push(this.byPair, this.key(username, ip), at);
    this.push(this.byUser, username, at);
    return { username, ip, at };
  }

  /** A right password: its own attempt is taken back, and the failures of that username+address are cleared. */
  succeed(attempt: LoginAttempt): void {
    this.byPair.delete(this.key(attempt.username, attempt.ip));
    const user = this.byUser.get(attempt.username);
    const i = user?.indexOf(attempt.at) ?? -1;
    if (user && i >= 0) {
      user.splice(i, 1);
      if (!user.length) this.byUser.delete(attempt.username);
    }
  }

  private push(map: Map<string, number[]>, key: string, at: number): void {
    const list = this.recent(map, key);
    list.push(at);
    map.set(key, list);
    // bound memory under a flood of distinct usernames
    if (map.size > 100_000) map.delete(map.keys().next().value as string);
  }
}
