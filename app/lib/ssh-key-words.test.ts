import { describe, expect, it } from "vitest";
import { ApiFailure } from "./api";
import { sshKeyErrorText } from "./ssh-key-words";

const refusal = (fields: Record<string, string>) => new ApiFailure(400, "BAD_REQUEST", "x", fields);

describe("SSH key refusals in words", () => {
  it("names the key being added and says what is wrong in words", () => {
    expect(sshKeyErrorText(refusal({ "sshKeys[1]": "unknown key type 'ssh-dss'" }), 1)).toBe(
      "This key: 'ssh-dss' is not a key type SlipStream accepts: use an ssh-ed25519, ssh-rsa or ecdsa-sha2-nistp256/384/521 key.",
    );
    expect(sshKeyErrorText(refusal({ "sshKeys[2]": "the same key as key 1" }), 2)).toContain(
      "you already have this key (key 1)",
    );
    expect(sshKeyErrorText(refusal({ "sshKeys[0]": "must be '<type> <base64> [comment]'" }), 0)).toContain(
      "not an OpenSSH public key",
    );
  });
  it("falls back to the message when no key is named", () => {
    expect(sshKeyErrorText(new Error("offline"), 0)).toBe("offline");
  });
});
