/**
 * Where to go after signing in: `next` as a path of this site, else `/`. Resolved the way the browser will
 * resolve it: `/\evil.example` and `/<tab>/evil.example` look like paths but are other origins to the URL parser.
 */
export function safeNext(next: string | null | undefined, origin: string): string {
  if (!next) return "/";
  let url: URL;
  let site: URL;
  try {
    site = new URL(origin);
    url = new URL(next, site);
  } catch {
    return "/";
  }
  if (url.origin !== site.origin) return "/";
  // back to the sign-in page would only sign in again
  if (url.pathname === "/login" || url.pathname.startsWith("/login/")) return "/";
  return `${url.pathname}${url.search}${url.hash}`;
}
