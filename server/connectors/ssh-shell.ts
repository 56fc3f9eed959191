/** Helpers for commands sent to a remote POSIX shell: every user-supplied string goes through `shq`. */

/** Single-quotes a string for sh; rejects NUL (which no shell word can hold). */
export function shq(s: string): string {
  if (s.includes("\0")) throw new Error("a shell argument cannot contain NUL");
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Names used in remote paths and markers (run ids, instance names): no slashes, spaces or leading dots. */
const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export function safeName(what: string, s: string): string {
  if (!SAFE_NAME.test(s) || s.includes("..")) throw new Error(`${what} '${s}' cannot be used in a remote path`);
  return s;
}

/** An absolute path without `.`/`..` segments or control characters. */
export function safeAbsPath(what: string, p: string): string {
  if (
    !p.startsWith("/") ||
    [...p].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f) ||
    p.split("/").some((seg) => seg === "." || seg === "..")
  ) {
    throw new Error(`${what} '${p}' is not a clean absolute path`);
  }
  return p.replace(/\/+$/, "") || "/";
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A file for `. ./file` with `set -a`: one quoted assignment per line. */
export function envFile(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => {
      if (!ENV_NAME.test(k)) throw new Error(`bad environment variable name '${k}'`);
      return `${k}=${shq(v)}\n`;
    })
    .join("");
}

const KEY_LINE =
  /^(ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)\s+([A-Za-z0-9+/]+={0,3})(?:\s.*)?$/;

/** `type blob` of an OpenSSH public key line (its comment dropped), or null when it is not one. */
export function publicKeyCore(line: string): string | null {
  const m = KEY_LINE.exec(line.trim());
  if (!m || line.includes("\n")) return null;
  return `${m[1]} ${m[2]}`;
}
