/**
 * The fast path of the ss-* commands: a bash wrapper that speaks to its agent over loopback TCP with bash's
 * own `/dev/tcp`, so a call costs a bash start (~2 ms) instead of a Node start (~50 ms). The wrapper sends
 * its argv untouched and prints what the agent answers: parsing, key qualification and validation stay in
 * one place (ss-commands.ts, run by the agent), so both paths behave the same by construction.
 *
 * Request:  KEY \0 ARGC \0 COMMAND \0 ARG1 \0 … ARGn \0   (fields cannot hold NUL: they come from argv)
 * Response: PROOF \0 EXIT \0 STDOUT \0 STDERR \0         (STDOUT/STDERR escaped for `printf %b`)
 *
 * KEY and PROOF are the secrets of `<workspace>/lib/ss.endpoint` ("PORT KEY PROOF [HOST]", mode 0600; HOST when
 * it is not 127.0.0.1: an instance with a network of its own reaches its agent host at the bridge's address): TCP
 * is open to every local user, the file is not. KEY proves the caller to the agent; PROOF, never sent by a
 * caller, proves the agent to the caller, so a process that took over a dead agent's port learns a KEY that
 * is of no use and cannot answer in its name.
 */

/** Env var naming the endpoint file, set for scripts and in slipstream.setenv. */
export const FAST_ENV = "SLIPSTREAM_AGENT_ENDPOINT";

/** A request longer than this is refused (values are ≤ 4096 characters; messages are joined argv). */
export const MAX_FAST_REQUEST = 64 * 1024;

export interface FastRequest {
  key: string;
  command: string;
  argv: string[];
}

/**
 * Parses a complete request from what arrived so far: null while fields are still missing.
 * Throws on a request that can never become valid.
 */
export function parseFastRequest(buffer: Buffer): FastRequest | null {
  const fields: string[] = [];
  let start = 0;
  for (let i = 0; i < buffer.length; i++) {
    if (buffer[i] !== 0) continue;
    fields.push(buffer.subarray(start, i).toString("utf8"));
    start = i + 1;
    if (fields.length === 2 && !/^\d{1,5}$/.test(fields[1])) throw new Error("bad argument count");
    if (fields.length >= 3 && fields.length === 3 + Number(fields[1])) {
      if (start !== buffer.length) throw new Error("data after the request");
      return { key: fields[0], command: fields[2], argv: fields.slice(3) };
    }
  }
  return null;
}

/** Escapes text for bash's `printf %b`: backslashes doubled, NUL (which a bash variable cannot hold) as \0000. */
export function escapeForPrintfB(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\0/g, "\\0000");
}

export function encodeFastResponse(proof: string, code: number, stdout: string, stderr: string): Buffer {
  return Buffer.from(`${proof}\0${code}\0${escapeForPrintfB(stdout)}\0${escapeForPrintfB(stderr)}\0`, "utf8");
}

/** Builds the request bytes as the bash wrapper does (for tests and the bench). */
export function encodeFastRequest(req: FastRequest): Buffer {
  return Buffer.from([req.key, String(req.argv.length), req.command, ...req.argv].map((f) => `${f}\0`).join(""));
}

/** The endpoint file's one line. */
export function endpointLine(port: number, key: string, proof: string, host?: string): string {
  // the address only when it is not loopback: the wrappers default to 127.0.0.1
  return host ? `${port} ${key} ${proof} ${host}\n` : `${port} ${key} ${proof}\n`;
}

/**
 * The wrapper of one command. `-p` keeps BASH_ENV, exported functions and SHELLOPTS (a recipe's `set -x`)
 * out of it; `command exec` keeps a refused connection from ending the script in POSIX mode (POSIXLY_CORRECT). Without an endpoint, or when the agent does not accept on it, it execs the Node client, which
 * talks over the unix socket and reports what is wrong with the standard exit codes. A connection lost
 * after the request was sent is exit 4, never a second try: the request may have taken effect.
 */
export function fastWrapper(bash: string, command: string, nodeFallback: string): string {
  return `#!${bash} -p
# ${command}: asks the SlipStream agent over loopback TCP (bash /dev/tcp), without starting Node.
ep=\${${FAST_ENV}-}
if [ -n "$ep" ] && { read -r port key proof host <"$ep" && command exec 3<>"/dev/tcp/\${host:-127.0.0.1}/$port"; } 2>/dev/null; then
  printf '%s\\0' "$key" "$#" ${command} "$@" >&3
  if ! IFS= read -r -d '' said <&3 || [ "$said" != "$proof" ]; then
    echo "${command}: the process on the agent's port is not its agent" >&2
    exit 4
  fi
  if IFS= read -r -d '' code <&3 && IFS= read -r -d '' out <&3 && IFS= read -r -d '' err <&3; then
    printf '%b' "$out"
    printf '%b' "$err" >&2
    exit "$code"
  fi
  echo "${command}: agent closed the connection" >&2
  exit 4
fi
${nodeFallback}
`;
}
