/**
 * SVG text does not wrap or ellipsize: two labels on one line of a diagram box (a node's name and its counter, an
 * instance's name and its status) are fitted here by measuring them in the diagram's font, so they never overlap.
 */

export interface SvgFont {
  size: number;
  weight: number;
}

/** the diagrams' font (`.diagram` in globals.css); the text elements set size and weight inline from SvgFont */
const FAMILY = "system-ui, sans-serif";
/** room kept between two labels of one line */
export const LABEL_GAP = 12;

let ctx: CanvasRenderingContext2D | null | undefined;
const widths = new Map<string, number>();

export function svgFontStyle(f: SvgFont) {
  return { fontSize: `${f.size}px`, fontWeight: f.weight };
}

export function textWidth(text: string, f: SvgFont): number {
  const key = `${f.weight}/${f.size}/${text}`;
  const known = widths.get(key);
  if (known !== undefined) return known;
  if (ctx === undefined)
    ctx = typeof document === "undefined" ? null : document.createElement("canvas").getContext("2d");
  let w: number;
  if (ctx) {
    ctx.font = `${f.weight} ${f.size}px ${FAMILY}`;
    w = ctx.measureText(text).width;
  } else {
    // no canvas (server render): wide enough for the widest common letters
    w = text.length * f.size * 0.72;
  }
  if (widths.size > 20_000) widths.clear();
  widths.set(key, w);
  return w;
}

/** `text`, cut with an ellipsis if needed to fit `max` pixels (at worst the ellipsis alone, or nothing). */
export function fitText(text: string, max: number, f: SvgFont): string {
  if (textWidth(text, f) <= max) return text;
  let lo = 0;
  let hi = text.length - 1;
  // the longest prefix that fits with its ellipsis
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (textWidth(`${text.slice(0, mid).trimEnd()}…`, f) <= max) lo = mid;
    else hi = mid - 1;
  }
  if (lo === 0) return textWidth("…", f) <= max ? "…" : "";
  return `${text.slice(0, lo).trimEnd()}…`;
}

/**
 * A left and a right label sharing `width` pixels: both whole when they fit; otherwise the shorter keeps its whole
 * text if it needs at most half, and the other is cut to what is left.
 */
export function fitPair(
  left: { text: string; font: SvgFont },
  right: { text: string; font: SvgFont },
  width: number,
): [string, string] {
  const avail = Math.max(0, width - LABEL_GAP);
  const lw = textWidth(left.text, left.font);
  const rw = textWidth(right.text, right.font);
  if (lw + rw <= avail) return [left.text, right.text];
  const half = avail / 2;
  if (lw <= half) return [left.text, fitText(right.text, avail - lw, right.font)];
  if (rw <= half) return [fitText(left.text, avail - rw, left.font), right.text];
  return [fitText(left.text, half, left.font), fitText(right.text, half, right.font)];
}
