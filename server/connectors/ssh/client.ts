/** The SSH transport: connect (host key pinned), run a command, SFTP. Knows nothing of agents or clouds. */
import { createHash } from "node:crypto";
import { Client, type ConnectConfig, type SFTPWrapper } from "ssh2";
import { ExecError, hostError } from "./exec-error.js";

export interface SshHost {
  address: string;
  port: number;
  username: string;
  privateKey?: string;
  password?: string;
  /** instances this host may run at once (each has its own workspace) */
  maxInstances: number;
  /**
   * The only host key accepted ("SHA256:<base64>", as ssh-keygen -l prints it): given by the admin, or pinned on the
   * first successful connect (trust on first use) when the admin gave none.
   */
  hostKey?: string;
  /** who pinned `hostKey`; absent: pinned on first use (clouds stored before admins could give one) */
  hostKeyPinnedBy?: "admin" | "first-use";
  /** when a connection first succeeded with `hostKey` (ISO time); absent: never yet */
  hostKeySeenAt?: string;
}

function describeConnectError(h: SshHost, err: Error & { code?: string; level?: string }): string {
  if (err.level === "client-authentication") return `authentication failed for user ${h.username}`;
  switch (err.code) {
    case "ECONNREFUSED":
      return "connection refused (is sshd running?)";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "host unreachable";
    case "ETIMEDOUT":
      return "connection timed out";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "unknown host name";
  }
  if (/timed out/i.test(err.message)) return "timed out waiting for the SSH handshake";
  return err.message;
}

/** The OpenSSH fingerprint of a raw host key: "SHA256:" and unpadded base64. */
export function hostKeyFingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

/**
 * Connects and authenticates. With `h.hostKey` set, a host offering another key is refused (the pin is set on
 * the first successful connect by the connector: trust on first use); `onHostKey` gets the offered key's fingerprint.
 * `onOffered` gets it as soon as the host presents it, before authentication (also when the connect then fails).
 */
export function connectHost(
  h: SshHost,
  timeoutMs = 15_000,
  onHostKey?: (fingerprint: string) => void,
  onOffered?: (fingerprint: string) => void,
): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    let offered: string | undefined;
    const cfg: ConnectConfig = {
      host: h.address,
      port: h.port,
      username: h.username,
      readyTimeout: timeoutMs,
      hostVerifier: (key: Buffer) => {
        offered = hostKeyFingerprint(key);
        onOffered?.(offered);
        return h.hostKey === undefined || h.hostKey === offered;
      },
    };
    if (h.privateKey) cfg.privateKey = h.privateKey;
    if (h.password) cfg.password = h.password;
    c.once("ready", () => {
      if (offered) onHostKey?.(offered);
      resolve(c);
    });
    c.once("error", (err) => {
      c.end();
      if (h.hostKey !== undefined && offered !== undefined && offered !== h.hostKey && h.hostKeyPinnedBy === "admin") {
        return reject(
          hostError(
            h,
            `the host key is not the one the cloud expects (expected ${h.hostKey}, offered ${offered}); refusing to connect — if the host's key was changed on purpose, update the cloud's hostKeySha256`,
          ),
        );
      }
      if (h.hostKey !== undefined && offered !== undefined && offered !== h.hostKey) {
        return reject(
          hostError(
            h,
            `the host key changed (pinned ${h.hostKey}, offered ${offered}); refusing to connect — if the change is expected, delete and re-create the cloud`,
          ),
        );
      }
      reject(hostError(h, describeConnectError(h, err)));
    });
    c.connect(cfg);
  });
}

export interface HostConnectOptions {
  /** ssh handshake timeout; default 15 s */
  timeoutMs?: number;
  /** called on a host's first successful connect, when its key was pinned (trust on first use) or first seen */
  onPinned?: (h: SshHost, fingerprint: string, seenAt: string) => void;
}

/**
 * A connect function that pins host keys into the `SshHost` objects it is given. While a host has no pinned key,
 * its connects run one at a time: the first success pins the key and the connects that waited then require it
 * (concurrent first connects would each accept whatever key they saw).
 */
export function pinningConnect(opts: HostConnectOptions): (h: SshHost) => Promise<Client> {
  /** Per host, the connect running without a pin: every other connect to the host waits for it. */
  const unpinned = new Map<SshHost, Promise<Client>>();

  /** Connects; on the host's first success pins the key offered (none given) and records when it was seen. */
  async function connectAndRecord(h: SshHost): Promise<Client> {
    let offered: string | undefined;
    const c = await connectHost(h, opts.timeoutMs, (fp) => {
      offered = fp;
    });
    if (offered !== undefined && (h.hostKey === undefined || h.hostKeySeenAt === undefined)) {
      if (h.hostKey === undefined) {
        h.hostKey = offered;
        h.hostKeyPinnedBy = "first-use";
      }
      h.hostKeySeenAt = new Date().toISOString();
      try {
        opts.onPinned?.(h, offered, h.hostKeySeenAt);
      } catch {
        // persisting the pin is best effort: it still holds for this connector's lifetime
      }
    }
    return c;
  }

  return async function connect(h: SshHost): Promise<Client> {
    while (h.hostKey === undefined) {
      const running = unpinned.get(h);
      if (running) {
        await running.catch(() => undefined);
        continue;
      }
      const attempt = connectAndRecord(h);
      unpinned.set(h, attempt);
      try {
        return await attempt;
      } finally {
        unpinned.delete(h);
      }
    }
    return connectAndRecord(h);
  };
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command` (stdin: `stdin`, or nothing) and collects its output; a nonzero exit is the caller's to judge. */
export function execRemote(c: Client, command: string, stdin?: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    c.exec(command, (err, stream) => {
      if (err) return reject(new ExecError(err.message, { command }));
      let stdout = "";
      let stderr = "";
      stream.on("data", (d: Buffer) => {
        stdout += d.toString("utf8");
      });
      stream.stderr.on("data", (d: Buffer) => {
        stderr += d.toString("utf8");
      });
      stream.on("close", (code: number | null) => resolve({ code, stdout, stderr }));
      stream.end(stdin ?? "");
    });
  });
}

export function sftpOf(c: Client): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => c.sftp((err, s) => (err ? reject(err) : resolve(s))));
}

export function sftpPut(s: SFTPWrapper, local: string, remote: string, mode: number): Promise<void> {
  return new Promise((resolve, reject) => s.fastPut(local, remote, { mode }, (err) => (err ? reject(err) : resolve())));
}

export function sftpWrite(s: SFTPWrapper, remote: string, data: string, mode: number): Promise<void> {
  return new Promise((resolve, reject) =>
    s.writeFile(remote, data, { mode, flag: "w" }, (err) => (err ? reject(err) : resolve())),
  );
}
