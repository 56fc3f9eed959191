/**
 * "Test connection" for one SSH host of a cloud being defined: connects, authenticates and runs `true`, nothing else,
 * and says which host key the host presented (so an admin can confirm it and pin it), whether it is the one given,
 * whether the login worked, and otherwise why not. Nothing is stored.
 */
import type { HostBody, TestConnectionResult } from "../../protocol/catalog/clouds.js";
import { connectHost, execRemote } from "../connectors/ssh/client.js";
import { hostLabel } from "../connectors/ssh/exec-error.js";

/** The whole test, handshake, authentication and `true`, ends within this. */
export const TEST_CONNECTION_MS = 10_000;
const HANDSHAKE_MS = 8_000;

type HostInput = Pick<HostBody, "address" | "port" | "username" | "privateKey" | "password" | "hostKeySha256">;

/**
 * Which addresses a test may dial, per app: null allows it, a string says why not. Unset (production): any. Test
 * suites that send arbitrary bodies (the fuzz) restrict it, so they never dial outside the machine.
 */
const policies = new WeakMap<object, (address: string, port: number) => string | null>();

export function restrictTestConnections(app: object, allow: (address: string, port: number) => string | null): void {
  policies.set(app, allow);
}

/** Strips the connector's "host a:p: " prefix: the page shows the message beside that host. */
function cause(err: unknown, h: { address: string; port: number }): string {
  const msg = err instanceof Error ? err.message : String(err);
  const prefix = `host ${hostLabel(h)}: `;
  return msg.startsWith(prefix) ? msg.slice(prefix.length) : msg;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(what)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export async function testConnection(app: object, h: HostInput): Promise<TestConnectionResult> {
  const expected = h.hostKeySha256 ?? undefined;
  const result = (r: Omit<TestConnectionResult, "hostKeyMatches" | "ok">, fingerprint = r.fingerprint) => {
    const hostKeyMatches = expected === undefined || fingerprint === null ? null : fingerprint === expected;
    return { ...r, hostKeyMatches, ok: r.authenticated && r.error === null && hostKeyMatches !== false };
  };
  const refused = policies.get(app)?.(h.address, h.port);
  if (refused) return result({ fingerprint: null, authenticated: false, error: refused });

  let offered: string | null = null;
  const started = Date.now();
  let client: Awaited<ReturnType<typeof connectHost>>;
  try {
    client = await connectHost(
      {
        address: h.address,
        port: h.port,
        username: h.username,
        privateKey: h.privateKey,
        password: h.password,
        maxInstances: 1,
        // a given key is the only one accepted: to another, no credential is ever sent
        ...(expected !== undefined ? { hostKey: expected, hostKeyPinnedBy: "admin" as const } : {}),
      },
      HANDSHAKE_MS,
      undefined,
      (fp) => {
        offered = fp;
      },
    );
  } catch (err) {
    const fingerprint: string | null = offered;
    if (expected !== undefined && fingerprint !== null && fingerprint !== expected) {
      return result({
        fingerprint,
        authenticated: false,
        error: `the host presented ${fingerprint}, not the given ${expected}: the login was not tried (no credential was sent to it)`,
      });
    }
    return result({ fingerprint, authenticated: false, error: cause(err, h) });
  }
  try {
    const left = Math.max(500, TEST_CONNECTION_MS - (Date.now() - started));
    const r = await withTimeout(
      execRemote(client, "true"),
      left,
      `logged in, but \`true\` did not finish within ${TEST_CONNECTION_MS / 1000} s`,
    );
    const error =
      r.code === 0
        ? null
        : `logged in, but the login's shell could not run \`true\` (exit ${r.code ?? "none"}${r.stderr.trim() ? `: ${r.stderr.trim().slice(0, 200)}` : ""})`;
    return result({ fingerprint: offered, authenticated: true, error });
  } catch (err) {
    return result({ fingerprint: offered, authenticated: true, error: `logged in, but ${cause(err, h)}` });
  } finally {
    client.end();
  }
}
