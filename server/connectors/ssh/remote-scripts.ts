/**
 * Commands sent to a remote POSIX shell, as pure strings: every user-supplied string goes through `shq`, every name
 * used in a remote path through `safeName`/`safeAbsPath`.
 */
import path from "node:path";

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

/** The comment ending the authorized_keys lines added for one instance. */
export function keyMarker(runId: string, instance: string): string {
  return `slipstream:${runId}:${instance}`;
}

/** Prints the login user's home directory, then `node --version` (or `none`). */
export const PROBE_NODE_SCRIPT = `printf '%s\\n' "$HOME"; if command -v node >/dev/null 2>&1; then node --version; else echo none; fi`;

/** Creates `dir` and its parents, private to the login user. */
export function mkdirScript(dir: string): string {
  return `umask 077; mkdir -p -- ${shq(dir)}`;
}

/** Prints `df -Pk` for `dir`'s file system (nothing when df is missing or fails). */
export function freeSpaceScript(dir: string): string {
  return `LC_ALL=C df -Pk -- ${shq(dir)} 2>/dev/null`;
}

/** Free KiB from `freeSpaceScript`'s output, or null when it says something else. */
export function parseFreeKiB(stdout: string): number | null {
  const fields = stdout.trim().split("\n").at(-1)?.trim().split(/\s+/);
  const free = fields && fields.length >= 6 ? Number(fields[3]) : Number.NaN;
  return Number.isFinite(free) ? free : null;
}

/** Runs `script` holding a lock on the login user's authorized_keys (flock where present). */
function withKeysLock(script: string): string {
  const lock = '"$HOME/.ssh/.slipstream.lock"';
  return `umask 077; mkdir -p "$HOME/.ssh" || exit 1; if command -v flock >/dev/null 2>&1; then flock ${lock} sh -c ${shq(script)}; else sh -c ${shq(script)}; fi`;
}

/** Appends its stdin to the login user's authorized_keys. */
export const APPEND_KEYS_SCRIPT = withKeysLock('cat >> "$HOME/.ssh/authorized_keys"');

/** Drops the authorized_keys lines added for one instance (they end with its marker). */
export function dropKeysScript(marker: string): string {
  return withKeysLock(
    `f="$HOME/.ssh/authorized_keys"; [ -f "$f" ] || exit 0; awk -v m=${shq(marker)} '$NF != m' "$f" > "$f.slipstream.tmp" && cat "$f.slipstream.tmp" > "$f"; rm -f "$f.slipstream.tmp"`,
  );
}

/** Removes an instance's workspace, then its run directory and ~/.slipstream when they are empty. */
export function removeWorkspaceScript(workspace: string): string {
  const runDir = path.posix.dirname(workspace);
  return `rm -rf -- ${shq(workspace)}; rmdir -- ${shq(runDir)} ${shq(path.posix.dirname(runDir))} 2>/dev/null; true`;
}

/**
 * Starts the agent in `workspace` in a session of its own, with the environment of `./agent.env` (removed once
 * read); prints its pid, or exits 3 with the tail of its output when it died at once.
 */
export function launchAgentScript(workspace: string): string {
  return [
    `cd -- ${shq(workspace)} || exit 1`,
    "set -a; . ./agent.env || exit 1; set +a",
    "rm -f ./agent.env",
    "setsid nohup node ./.agent/agent.mjs > ./agent.out 2>&1 < /dev/null &",
    "pid=$!",
    "sleep 0.3",
    'if ! kill -0 "$pid" 2>/dev/null; then tail -n 20 ./agent.out >&2; exit 3; fi',
    'echo "$pid"',
  ].join("\n");
}

/** Every process tagged for the workspace, then the agent's session; TERM, wait up to the grace, KILL. */
export function killScript(marker: string, pid: number, graceSeconds: number): string {
  return [
    `M=${shq(marker)}`,
    `P=${Math.trunc(pid)}`,
    `list() { for d in /proc/[0-9]*; do [ -r "$d/environ" ] || continue; if tr '\\0' '\\n' < "$d/environ" 2>/dev/null | grep -qxF -- "$M"; then echo "\${d#/proc/}"; fi; done; }`,
    // the pid may belong to someone else after a reboot of the host: signal its session only if it is tagged
    `own=no; case " $(list | tr '\\n' ' ') " in *" $P "*) own=yes ;; esac`,
    `sig() { [ "$own" = yes ] && kill -$1 -$P 2>/dev/null; p=$(list); [ -n "$p" ] && kill -$1 $p 2>/dev/null; true; }`,
    "sig TERM",
    `i=0; while [ $i -lt ${Math.max(1, Math.round(graceSeconds * 10))} ]; do [ -z "$(list)" ] && break; sleep 0.1; i=$((i + 1)); done`,
    `[ -n "$(list)" ] && sig KILL`,
    "true",
  ].join("\n");
}
