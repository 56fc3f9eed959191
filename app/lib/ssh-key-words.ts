import { ApiFailure, errorText } from "./api";

/** The server's short reasons (protocol/api.ts sshKeyProblem) as a person reads them. */
function inWords(reason: string): string {
  if (reason.startsWith("must be '<type> <base64>"))
    return "it is not an OpenSSH public key: paste the one line of your .pub file (ssh-ed25519 AAAA… you@laptop)";
  const type = /^unknown key type '(.*)'$/.exec(reason);
  if (type)
    return `'${type[1]}' is not a key type SlipStream accepts: use an ssh-ed25519, ssh-rsa or ecdsa-sha2-nistp256/384/521 key`;
  if (reason === "key body is not base64" || reason === "key body is truncated" || reason === "key body is too short")
    return "the key itself (after its type) is cut or damaged: copy the whole line of the .pub file again";
  const other = /^key body is a '(.*)' key, not '(.*)'$/.exec(reason);
  if (other) return `the line says ${other[2]} but the key is a ${other[1]} key: copy the whole line again`;
  const same = /^the same key as key (\d+)$/.exec(reason);
  if (same) return `you already have this key (key ${same[1]}), maybe with another comment`;
  return reason;
}

/**
 * A refused SSH key list in words: which key (the one being added is `added`, the others by their place) and what
 * is wrong with it, rather than the field paths of the refusal.
 */
export function sshKeyErrorText(err: unknown, added: number): string {
  if (!(err instanceof ApiFailure)) return errorText(err);
  const named = Object.entries(err.fields).flatMap(([path, reason]) => {
    const m = /^sshKeys\[(\d+)\]$/.exec(path);
    if (!m) return [];
    const i = Number(m[1]);
    return [`${i === added ? "This key" : `Key ${i + 1}`}: ${inWords(reason)}.`];
  });
  return named.length > 0 ? named.join(" ") : errorText(err);
}
