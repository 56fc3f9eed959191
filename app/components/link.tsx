"use client";

import NextLink from "next/link";
import { useRouter } from "next/navigation";
import type { ComponentProps } from "react";

/**
 * `next/link` that prefetches a page when the reader reaches for its link (hover, focus, touch), not when the link
 * scrolls into view. Every page shows the top bar's six links: their viewport prefetches were a dozen server renders
 * (the same thread as the API and the live sockets) racing the page's own data while it loaded — the run page of 200
 * instances drew its first screen after all of them.
 */
export function Link({
  href,
  prefetch,
  onMouseEnter,
  onFocus,
  onTouchStart,
  ...props
}: ComponentProps<typeof NextLink>) {
  const router = useRouter();
  const url = typeof href === "string" && href.startsWith("/") ? href : null;
  const intent = () => {
    if (url && prefetch !== false) router.prefetch(url);
  };
  return (
    <NextLink
      {...props}
      href={href}
      prefetch={false}
      onMouseEnter={(e) => {
        intent();
        onMouseEnter?.(e);
      }}
      onFocus={(e) => {
        intent();
        onFocus?.(e);
      }}
      onTouchStart={(e) => {
        intent();
        onTouchStart?.(e);
      }}
    />
  );
}
