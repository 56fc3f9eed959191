import { SlipError } from "../../protocol/errors.js";

/**
 * Failed sign-in throttling, in memory (a restart forgets it): after `max` failures for one username from one
 * address within `windowMs`, every attempt for that pair — right password or not — answers 429 until the oldest
 * failure leaves the window. Other usernames and other addresses are not affected.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();
  /** the clock; tests move it */
  now: () => number = () => Date.now();

  constructor(
    readonly max = 5,
    readonly windowMs = 15 * 60_000,
  ) {}

  private key(username: string, ip: string): string {
    return `${username}\u0000${ip}`;
  }

  private recent(key: string): number[] {
    const since = this.now() - this.windowMs;
    const list = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (list.length) this.failures.set(key, list);
    else this.failures.delete(key);
    return list;
  }

  /** Throws TOO_MANY_REQUESTS while the pair is locked out. */
  check(username: string, ip: string): void {
    const list = this.recent(this.key(username, ip));
    if (list.length >= this.max) {
      const retry = Math.max(1, Math.ceil((list[0] + this.windowMs - this.now()) / 1000));
      throw new SlipError("TOO_MANY_REQUESTS", `too many failed sign-ins for '${username}'; try again in ${retry} s`);
    }
  }

  fail(username: string, ip: string): void {
    const key = this.key(username, ip);
    const list = this.recent(key);
    list.push(this.now());
    this.failures.set(key, list);
    // bound memory under a flood of distinct usernames
    if (this.failures.size > 100_000) this.failures.delete(this.failures.keys().next().value as string);
  }

  succeed(username: string, ip: string): void {
    this.failures.delete(this.key(username, ip));
  }
}
