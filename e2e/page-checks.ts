import AxeBuilder from "@axe-core/playwright";
import type { Page } from "@playwright/test";

/**
 * What the responsive and accessibility specs measure on a page, each reported in words that name the culprit: a
 * failing spec should say which element or rule to fix, not only that something is wrong.
 */

/** The elements that stick out of the viewport to the right (and make the page scroll sideways), outermost first. */
export async function overflowingElements(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const limit = window.innerWidth + 1;
    const out: string[] = [];
    const clipsX = (el: Element) => {
      const o = getComputedStyle(el).overflowX;
      return o === "auto" || o === "scroll" || o === "hidden" || o === "clip";
    };
    const walk = (el: Element) => {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > limit) {
        const cls =
          typeof el.className === "string" && el.className ? `.${el.className.trim().split(/\s+/).join(".")}` : "";
        out.push(`${el.tagName.toLowerCase()}${cls} (right edge ${Math.round(r.right)} px)`);
        return; // its children are reported with it
      }
      if (clipsX(el)) return; // what is inside scrolls there, not the page
      for (const c of el.children) walk(c);
    };
    for (const c of document.body.children) walk(c);
    if (out.length > 0) return out;
    // nothing in the flow sticks out: then something positioned escaped the clipping of a scroll container
    for (const el of document.body.querySelectorAll("*")) {
      const r = el.getBoundingClientRect();
      if (r.right > limit && getComputedStyle(el).position === "absolute")
        out.push(
          `${el.tagName.toLowerCase()} "${(el.textContent ?? "").slice(0, 40)}" (positioned, right edge ${Math.round(r.right)} px)`,
        );
    }
    return out;
  });
}

export async function pageWidth(page: Page) {
  return page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
}

/** Passes when the page does not scroll sideways; otherwise names what sticks out. */
export async function horizontalOverflow(page: Page): Promise<string | null> {
  const { scrollWidth, innerWidth } = await pageWidth(page);
  if (scrollWidth <= innerWidth) return null;
  const culprits = await overflowingElements(page);
  return `${page.url()}: ${scrollWidth} px wide in a ${innerWidth} px viewport; sticking out: ${culprits.slice(0, 8).join(", ") || "?"}`;
}

/** Serious and critical axe violations of the page as it is now, one line per rule and node. */
export async function seriousViolations(page: Page, label: string): Promise<string[]> {
  const result = await new AxeBuilder({ page }).analyze();
  const out: string[] = [];
  for (const v of result.violations) {
    if (v.impact !== "serious" && v.impact !== "critical") continue;
    for (const n of v.nodes)
      out.push(
        `${label}: ${v.id} (${v.impact}) ${v.help}: ${n.target.join(" ")} ${n.html.slice(0, 160)} — ${(n.failureSummary ?? "").replace(/\s+/g, " ").slice(0, 240)}`,
      );
  }
  return out;
}

/** For each node and instance of the run diagram, whether its two labels on one line overlap, named. */
export async function diagramCollisions(page: Page): Promise<{ checked: number; collisions: string[] }> {
  return page.evaluate(() => {
    const out: string[] = [];
    let checked = 0;
    const hit = (a: DOMRect, b: DOMRect) =>
      a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    const pairs: [string, string, string][] = [
      ["[data-node]", ".dg-title", ".dg-count"],
      ["[data-instance]", ".inst-name", ".inst-status"],
    ];
    for (const [group, left, right] of pairs)
      for (const g of document.querySelectorAll(`[data-testid="run-diagram"] ${group}`)) {
        const l = g.querySelector(`:scope > ${left}`);
        const r = g.querySelector(`:scope > ${right}`);
        if (!l || !r) continue;
        checked++;
        const lb = l.getBoundingClientRect();
        const rb = r.getBoundingClientRect();
        if (hit(lb, rb))
          out.push(
            `"${l.textContent}" [${Math.round(lb.left)}–${Math.round(lb.right)}] overlaps "${r.textContent}" [${Math.round(rb.left)}–${Math.round(rb.right)}]`,
          );
      }
    return { checked, collisions: out };
  });
}
