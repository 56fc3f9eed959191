import { randomBytes, scrypt as scryptCb, timingSafeEqual } from "node:crypto";
import { availableParallelism } from "node:os";
import { promisify } from "node:util";
import { SlipError } from "../../protocol/errors.js";

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number, opts: object) => Promise<Buffer>;

/**
 * OWASP's Password Storage Cheat Sheet parameters for scrypt: N=2^17, r=8, p=1 (128 MiB per hash), so offline
 * guessing from a leaked database is expensive. Hashes stored with other parameters still verify with their own,
 * and are rehashed with these on the next successful sign-in.
 */
export const SCRYPT = { N: 2 ** 17, r: 8, p: 1 } as const;

/** Node refuses a hash needing (about) `maxmem` or more: 128·N·r·p bytes, plus headroom. */
function maxmem(N: number, r: number, p: number): number {
  return 128 * N * r * p + 32 * 1024 * 1024;
}

export async function hashPassword(password: string): Promise<string> {
  const { N, r, p } = SCRYPT;
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, 32, { N, r, p, maxmem: maxmem(N, r, p) });
  return `scrypt$${N}$${r}$${p}$${salt.toString("base64")}$${hash.toString("base64")}`;
}

interface Parsed {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

/** Reads a stored hash; parameters beyond what this server ever wrote are refused rather than allocated. */
function parse(stored: string): Parsed | null {
  const [scheme, n, r, p, salt, hash] = stored.split("$");
  if (scheme !== "scrypt" || salt === undefined || hash === undefined) return null;
  const parsed = {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    salt: Buffer.from(salt, "base64"),
    hash: Buffer.from(hash, "base64"),
  };
  const powerOfTwo = Number.isInteger(parsed.N) && parsed.N >= 2 && (parsed.N & (parsed.N - 1)) === 0;
  if (!powerOfTwo || parsed.N > 2 ** 20 || !(parsed.r >= 1 && parsed.r <= 32) || !(parsed.p >= 1 && parsed.p <= 16)) {
    return null;
  }
  return parsed;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const s = parse(stored);
  if (!s) return false;
  const actual = await scrypt(password, s.salt, s.hash.length, {
    N: s.N,
    r: s.r,
    p: s.p,
    maxmem: maxmem(s.N, s.r, s.p),
  });
  return timingSafeEqual(s.hash, actual);
}

/** True when a stored hash was made with other parameters than today's: rehash it once the password is known. */
export function needsRehash(stored: string): boolean {
  const s = parse(stored);
  return !s || s.N !== SCRYPT.N || s.r !== SCRYPT.r || s.p !== SCRYPT.p;
}

/**
 * Verified against when the username is unknown, so that answering takes as long as for a real user: it must use
 * today's parameters, or the missing users would answer faster.
 */
export const DUMMY_HASH = `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${Buffer.alloc(16).toString("base64")}$${Buffer.alloc(32).toString("base64")}`;

export function generatePassword(): string {
  return randomBytes(12).toString("base64url");
}

/**
 * Admission to password hashing for the whole process. scrypt runs on libuv's thread pool (4 threads), which every
 * asynchronous file operation shares, and each hash keeps a core busy: at most `concurrency` hashes run at once (2,
 * or 1 on a 2-core machine so the event loop keeps a core of its own), so files and requests are never queued behind
 * them, and at most `maxQueued` sign-ins wait. Past that a sign-in is refused at once ("retry in a moment") rather
 * than queued behind a flood for minutes. Urgent work (a sign-in from an address that user signed in from before)
 * waits in its own queue, served first.
 */
export class HashingGate {
  private running = 0;
  private readonly urgent: (() => void)[] = [];
  private readonly normal: (() => void)[] = [];

  constructor(
    readonly concurrency = Math.max(1, Math.min(2, availableParallelism() - 1)),
    readonly maxQueued = 8,
  ) {}

  /** `bounded`: refuse when the queue is full (unauthenticated sign-ins); otherwise always wait. */
  async run<T>(work: () => Promise<T>, opts: { bounded?: boolean; urgent?: boolean } = {}): Promise<T> {
    if (this.running < this.concurrency) this.running++;
    else {
      const queue = opts.urgent ? this.urgent : this.normal;
      if (opts.bounded && queue.length >= this.maxQueued) {
        throw new SlipError("UNAVAILABLE", "too many sign-ins in progress; retry in a moment");
      }
      // the slot is handed over by the finishing hash: `running` stays as it is
      await new Promise<void>((resolve) => queue.push(resolve));
    }
    try {
      return await work();
    } finally {
      const next = this.urgent.shift() ?? this.normal.shift();
      if (next) next();
      else this.running--;
    }
  }

  /** For tests and diagnostics: hashes running and waiting. */
  get load(): { running: number; queued: number } {
    return { running: this.running, queued: this.urgent.length + this.normal.length };
  }
}
