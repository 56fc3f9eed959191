"use client";

import { usePathname, useRouter } from "next/navigation";
import { type ReactNode, useEffect, useId, useState, useSyncExternalStore } from "react";
import { Link } from "@/app/components/link";
import type { LiveStatus } from "../lib/live";
import { useSession, useSignOut } from "../lib/session";
import { useLive } from "../providers";
import { ConnectionBanner } from "./connection-banner";

function useLiveStatus(): LiveStatus {
  const live = useLive();
  return useSyncExternalStore(
    live.onStatus,
    () => live.status,
    () => "idle" as const,
  );
}

const STATUS_TEXT: Record<Exclude<LiveStatus, "idle">, string> = {
  online: "Live",
  connecting: "Connecting…",
  offline: "Reconnecting…",
  outdated: "Reload needed",
};

function LiveIndicator() {
  const status = useLiveStatus();
  if (status === "idle") return null;
  const text = STATUS_TEXT[status];
  return (
    <span className={`live-indicator live-${status}`} title={status === "online" ? "Live updates are on" : text}>
      <span className="dot" aria-hidden="true" />
      {text}
    </span>
  );
}

/** The server was upgraded under this page: live updates stopped, and only a reload brings them back. */
function OutdatedBanner() {
  const status = useLiveStatus();
  if (status !== "outdated") return null;
  return (
    <div className="outdated-banner" role="alert" data-testid="outdated-banner">
      <span>
        <strong>This page is out of date:</strong> SlipStream was updated since it loaded, so live updates have stopped.
        Reload the page to get them back.
      </span>
      <button type="button" className="button small" onClick={() => window.location.reload()}>
        Reload page
      </button>
    </div>
  );
}

export function TopBar() {
  const pathname = usePathname();
  const session = useSession();
  const signOut = useSignOut();
  const user = session.data?.user;
  const nav = [
    { href: "/", label: "Runs", active: pathname === "/" || pathname.startsWith("/runs") },
    { href: "/modules", label: "Modules", active: pathname.startsWith("/modules") },
    { href: "/profile", label: "Profile", active: pathname.startsWith("/profile") },
    // members do not see the admin pages (the API refuses them changes anyway)
    ...(user?.role === "admin"
      ? [
          { href: "/users", label: "Users", active: pathname.startsWith("/users") },
          { href: "/clouds", label: "Clouds", active: pathname.startsWith("/clouds") },
          { href: "/settings", label: "Settings", active: pathname.startsWith("/settings") },
        ]
      : []),
  ];
  const menuId = useId();
  const [menuOpen, setMenuOpen] = useState(false);
  // a phone's menu closes once it took you somewhere
  // biome-ignore lint/correctness/useExhaustiveDependencies: the path change is the trigger
  useEffect(() => setMenuOpen(false), [pathname]);
  return (
    <>
      <a href="#content" className="skip-link">
        Skip to content
      </a>
      <header className={`topbar${menuOpen ? " menu-open" : ""}`}>
        <Link href="/" className="brand">
          <span className="brand-mark" aria-hidden="true">
            ≋
          </span>
          SlipStream
        </Link>
        {user && (
          <button
            type="button"
            className="menu-toggle"
            aria-expanded={menuOpen}
            aria-controls={menuId}
            onClick={() => setMenuOpen((o) => !o)}
          >
            <span aria-hidden="true">☰</span> Menu
          </button>
        )}
        <div className="topbar-menu" id={menuId}>
          {user && (
            <nav aria-label="Main">
              {nav.map((n) => (
                <Link
                  key={n.href}
                  href={n.href}
                  className={n.active ? "active" : undefined}
                  aria-current={n.active ? "page" : undefined}
                >
                  {n.label}
                </Link>
              ))}
            </nav>
          )}
          <div className="topbar-right">
            {user && <LiveIndicator />}
            {user && (
              <span className="signed-in">
                <span className="avatar" aria-hidden="true">
                  {user.username.slice(0, 1).toUpperCase()}
                </span>
                <span data-testid="signed-in-user">{user.username}</span>
                {user.role === "admin" && <span className="role">admin</span>}
              </span>
            )}
            {user && (
              <button
                type="button"
                className="button subtle"
                onClick={() => signOut.mutate()}
                disabled={signOut.isPending}
              >
                Sign out
              </button>
            )}
          </div>
        </div>
      </header>
      {user && <OutdatedBanner />}
      {user && <ConnectionBanner />}
    </>
  );
}

/** Renders its children only for a signed-in user; sends anyone else to the login page. */
export function AuthGate({ children }: { children: ReactNode }) {
  const session = useSession();
  const router = useRouter();
  useEffect(() => {
    if (session.data === null) {
      const next = window.location.pathname + window.location.search;
      router.replace(`/login?next=${encodeURIComponent(next)}`);
    }
  }, [session.data, router]);
  if (session.isPending) return <p className="page-loading">Loading…</p>;
  if (session.isError)
    return (
      <div className="empty-state error">
        <h2>The server cannot be reached</h2>
        <p>{session.error.message}</p>
        <button type="button" className="button" onClick={() => session.refetch()}>
          Try again
        </button>
      </div>
    );
  if (!session.data) return null;
  return <>{children}</>;
}
