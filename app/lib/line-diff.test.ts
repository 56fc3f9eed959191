import { describe, expect, it } from "vitest";
import { lineDiff } from "./line-diff";

const render = (before: string, after: string) =>
  lineDiff(before, after).map((l) => `${{ same: " ", added: "+", removed: "-" }[l.kind]}${l.text}`);

describe("lineDiff", () => {
  it("keeps common lines and marks what changed", () => {
    expect(
      render("kind: image\ndescription: a\nparameters: []", "kind: image\ndescription: b\nparameters: []"),
    ).toEqual([" kind: image", "-description: a", "+description: b", " parameters: []"]);
  });
  it("identical texts have no changes; an empty one is all added", () => {
    expect(lineDiff("a\nb", "a\nb").every((l) => l.kind === "same")).toBe(true);
    expect(render("", "x")).toEqual(["-", "+x"]);
  });
  it("an inserted block stays one block", () => {
    expect(render("a\nd", "a\nb\nc\nd")).toEqual([" a", "+b", "+c", " d"]);
  });
});
