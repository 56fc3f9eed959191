/**
 * When a run's next live batch is folded into the cache and rendered: the pacing rules of `Live`, kept apart from
 * the socket so they can be checked without one. A page that takes longer than a frame to render a batch waits as
 * long before the next (the main thread stays at least half free for input however large the run); a page that
 * renders in a transition says when it has rendered, and the next batch waits for that, not forever.
 */

/** The longest a live batch waits to be shown (ms), however slow the page's last render was. */
export const MAX_FLUSH_DELAY = 250;
/**
 * The longest a batch waits while the page is still rendering the one before (ms): a page that renders in a
 * transition (the run page) starts that render again from the top for every new batch, so batches coming faster
 * than it renders would keep it from ever showing one.
 */
export const MAX_UNRENDERED_DELAY = 1000;
/** a frame: no batch follows the last one sooner */
export const MIN_FLUSH_DELAY = 16;

export interface Pacing {
  /** ms the last flush took, the page's render of it included */
  cost: number;
  /** when the flush the page has not yet said it rendered began (performance.now()), or null */
  unrendered: number | null;
}

/** ms until the next batch may be flushed, at `now`. */
export function flushDelay(p: Pacing, now: number): number {
  // clamped, not only computed: the sum and difference of two clock readings can land an ulp past the bound
  if (p.unrendered !== null) {
    return Math.max(MIN_FLUSH_DELAY, Math.min(MAX_UNRENDERED_DELAY, p.unrendered + MAX_UNRENDERED_DELAY - now));
  }
  return Math.min(MAX_FLUSH_DELAY, Math.max(MIN_FLUSH_DELAY, p.cost));
}

/** The page rendered the flush begun at `p.unrendered`: what that took is the next batch's pacing. */
export function renderedAt(p: Pacing, now: number): Pacing {
  return p.unrendered === null ? p : { cost: now - p.unrendered, unrendered: null };
}
