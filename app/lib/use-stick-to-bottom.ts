"use client";

import { useEffect, useRef } from "react";

/** Keeps a scroll box pinned to its bottom while new content arrives, unless the reader scrolled up. */
export function useStickToBottom(dep: unknown) {
  const ref = useRef<HTMLElement>(null);
  const stick = useRef(true);
  const ours = useRef(false);
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when the content changes
  useEffect(() => {
    if (!ref.current || !stick.current) return;
    // pinned in the next frame, when the browser lays the page out anyway: measuring in the commit forced a layout
    // of the whole page per live batch (on a 1,000-instance run, a quarter of the main thread's time)
    const frame = requestAnimationFrame(() => {
      const el = ref.current;
      if (!el || !stick.current) return;
      ours.current = true;
      el.scrollTop = el.scrollHeight;
    });
    return () => cancelAnimationFrame(frame);
  }, [dep]);
  const onScroll = () => {
    const el = ref.current;
    // the scroll this hook made itself says nothing about the reader; measuring it would cost a layout
    if (ours.current) {
      ours.current = false;
      return;
    }
    if (el) stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  };
  return { ref, onScroll };
}
