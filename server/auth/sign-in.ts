import { SlipError } from "../../protocol/errors.js";
import type { AuthContext } from "./credentials.js";
import { DUMMY_HASH, type HashingGate, hashPassword, needsRehash, verifyPassword } from "./passwords.js";
import type { UserRow } from "./profile.js";
import type { LoginThrottle } from "./throttle.js";

/**
 * Checks a sign-in, throttled per username+address, per address and per username (see LoginThrottle), before any
 * hashing; the hash itself waits its turn at the process-wide gate, or is refused at once when too many wait. The
 * attempt is counted before the slow password check, so concurrent wrong passwords cannot all pass the limit; a
 * right one takes it back, and one refused by the gate never counted. A hash made with older parameters is
 * replaced now that the password is known.
 */
export async function verifyCredentials(
  ctx: AuthContext,
  gates: { throttle: LoginThrottle; hashing: HashingGate },
  username: string,
  password: string,
  ip: string,
): Promise<UserRow> {
  const { throttle, hashing } = gates;
  const known = throttle.isKnown(username, ip);
  const attempt = throttle.attempt(username, ip);
  const row = ctx.db.$client.prepare("select * from users where username = ?").get(username) as UserRow | undefined;
  let ok: boolean;
  try {
    // verify against a dummy hash for unknown users too, so timing does not reveal which usernames exist
    ok = await hashing.run(() => verifyPassword(password, row?.password_hash ?? DUMMY_HASH), {
      bounded: true,
      urgent: known,
    });
  } catch (err) {
    throttle.cancel(attempt);
    throw err;
  }
  if (!row || !ok) throw new SlipError("UNAUTHORIZED", "wrong username or password");
  throttle.succeed(attempt);
  // said only to whoever knows the password: a guesser learns nothing about the account
  if (row.disabled_at !== null) {
    throw new SlipError("FORBIDDEN", `user '${row.username}' is disabled; an admin can enable it again`);
  }
  if (needsRehash(row.password_hash)) await rehash(ctx, hashing, row, password);
  return row;
}

async function rehash(ctx: AuthContext, hashing: HashingGate, row: UserRow, password: string): Promise<void> {
  try {
    // after a right password only (at most once per user): it does not wait behind a flood of guesses
    const hash = await hashing.run(() => hashPassword(password), { urgent: true });
    // only if the password was not changed meanwhile
    ctx.db.$client
      .prepare("update users set password_hash = ? where id = ? and password_hash = ?")
      .run(hash, row.id, row.password_hash);
  } catch {
    // an upgrade of the stored hash is opportunistic: the next sign-in tries again
  }
}
