import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fitPair, fitText, LABEL_GAP, textWidth } from "./svg-fit";

const NAME = { size: 13, weight: 700 };
const STATUS = { size: 11.5, weight: 600 };

describe("fitting two labels on one line of a diagram box", () => {
  it("keeps both whole when they fit", () => {
    expect(fitPair({ text: "client.1", font: NAME }, { text: "ready", font: STATUS }, 216)).toEqual([
      "client.1",
      "ready",
    ]);
  });

  it("cuts the longer one with an ellipsis and keeps the short one whole", () => {
    const [name, status] = fitPair(
      { text: "client.1", font: NAME },
      { text: "ready · aborted · stopped · and then some more words", font: STATUS },
      216,
    );
    expect(name).toBe("client.1");
    expect(status).toMatch(/^ready · a.*…$/);
  });

  it("never lets the two labels and their gap exceed the width, whatever the texts", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 80 }),
        fc.string({ maxLength: 80 }),
        fc.integer({ min: 0, max: 400 }),
        (l, r, w) => {
          const [a, b] = fitPair({ text: l, font: NAME }, { text: r, font: STATUS }, w);
          const used = textWidth(a, NAME) + textWidth(b, STATUS);
          expect(used).toBeLessThanOrEqual(Math.max(0, w - LABEL_GAP) + 1e-9);
          // what is kept is the start of the text
          expect(l.startsWith(a.replace(/…$/, ""))).toBe(true);
          expect(r.startsWith(b.replace(/…$/, ""))).toBe(true);
        },
      ),
    );
  });

  it("gives back nothing rather than more than the room", () => {
    expect(fitText("apache", 1, NAME)).toBe("");
    expect(fitText("apache", textWidth("a…", NAME), NAME)).toBe("a…");
  });
});
