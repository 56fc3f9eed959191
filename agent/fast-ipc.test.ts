import { describe, expect, it } from "vitest";
import { encodeFastRequest, encodeFastResponse, escapeForPrintfB, parseFastRequest } from "./fast-ipc.js";

describe("the fast ss-* request", () => {
  it("is complete only when every announced argument has arrived", () => {
    const whole = encodeFastRequest({ key: "k", command: "ss-set", argv: ["a", "b c\nd"] });
    for (let cut = 0; cut < whole.length; cut++) expect(parseFastRequest(whole.subarray(0, cut))).toBeNull();
    expect(parseFastRequest(whole)).toEqual({ key: "k", command: "ss-set", argv: ["a", "b c\nd"] });
  });

  it("keeps empty arguments and multi-byte text", () => {
    const req = { key: "k", command: "ss-set", argv: ["", "é ✓"] };
    expect(parseFastRequest(encodeFastRequest(req))).toEqual(req);
  });

  it("refuses a bad argument count and data after the request", () => {
    expect(() => parseFastRequest(Buffer.from("k\0x\0ss-get\0"))).toThrow("bad argument count");
    expect(() => parseFastRequest(Buffer.from("k\x000\x00ss-get\x00extra"))).toThrow("data after the request");
  });
});

describe("the fast ss-* response", () => {
  it("escapes backslashes and NUL for printf %b, nothing else", () => {
    expect(escapeForPrintfB("a\\nb\0c%s\n")).toBe("a\\\\nb\\0000c%s\n");
    expect(encodeFastResponse(8, "", "aborted\n").toString()).toBe("8\0\0aborted\n\0");
  });
});
