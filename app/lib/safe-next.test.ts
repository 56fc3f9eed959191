import { describe, expect, it } from "vitest";
import { safeNext } from "./safe-next";

const SITE = "http://127.0.0.1:8080";

describe("safeNext: the sign-in redirect stays on the site (security.md F17)", () => {
  it.each([
    ["/\\evil.example", "backslash: the URL parser reads it as //evil.example"],
    // the page reads `next` from its query, decoded: `?next=/%09/evil.example` is a tab, which the parser drops
    [new URLSearchParams("next=/%09/evil.example").get("next"), "a tab"],
    [new URLSearchParams("next=/%5Cevil.example").get("next"), "an encoded backslash"],
    ["//evil", "protocol-relative"],
    ["https://evil", "absolute"],
    ["javascript:alert(1)", "another scheme"],
    ["http://127.0.0.1:8081/runs/1", "another port of the same host"],
    ["/login?next=/runs/1", "the sign-in page itself"],
    ["", "empty"],
    [null, "absent"],
  ])("%j → / (%s)", (next, _why) => {
    expect(safeNext(next, SITE)).toBe("/");
  });

  it("keeps a path of the site with its query and fragment", () => {
    // not decoded: a path segment named "%09", on this site
    expect(safeNext("/%09/evil.example", SITE)).toBe("/%09/evil.example");
    expect(safeNext("/runs/1", SITE)).toBe("/runs/1");
    expect(safeNext("/?tag=nightly#top", SITE)).toBe("/?tag=nightly#top");
    expect(safeNext("/modules/examples/a b", SITE)).toBe("/modules/examples/a%20b");
  });
});
