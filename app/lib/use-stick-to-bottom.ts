"use client";

import { useLayoutEffect, useRef } from "react";

/** Keeps a scroll box pinned to its bottom while new content arrives, unless the reader scrolled up. */
export function useStickToBottom(dep: unknown) {
  const ref = useRef<HTMLElement>(null);
  const stick = useRef(true);
  const ours = useRef(false);
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when the content changes
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el || !stick.current) return;
    ours.current = true;
    el.scrollTop = el.scrollHeight;
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
