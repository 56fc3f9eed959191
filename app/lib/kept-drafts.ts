"use client";

import { useEffect, useRef, useState } from "react";
import { beforeRedirectToLogin } from "./api";
import { useSession } from "./session";

/**
 * An editor's unsaved draft, kept in the browser's localStorage as it is edited, so a session that expires (or a
 * reload, or a closed tab) does not throw it away. One per user and module; it remembers the version it was based on.
 */
export interface KeptDraft<D> {
  baseVersion: number;
  savedAt: string;
  draft: D;
}

const PREFIX = "slipstream.draft:";
/** sessionStorage: the module whose unsaved changes a session expiry interrupted (the sign-in page says so) */
export const SESSION_EXPIRED_MODULE = "slipstream.sessionExpiredModule";

export const draftKey = (user: string, path: string) => `${PREFIX}${user}:${path}`;

export function keepDraft<D>(store: Storage, user: string, path: string, kept: KeptDraft<D>): void {
  try {
    store.setItem(draftKey(user, path), JSON.stringify(kept));
  } catch {
    // full or refused storage: the draft lives only in the page, as before
  }
}

export function readDraft<D>(store: Storage, user: string, path: string): KeptDraft<D> | null {
  try {
    const raw = store.getItem(draftKey(user, path));
    if (!raw) return null;
    const v = JSON.parse(raw) as Partial<KeptDraft<D>>;
    if (typeof v.baseVersion !== "number" || typeof v.savedAt !== "string" || v.draft === undefined) return null;
    return { baseVersion: v.baseVersion, savedAt: v.savedAt, draft: v.draft };
  } catch {
    return null;
  }
}

export function dropDraft(store: Storage, user: string, path: string): void {
  try {
    store.removeItem(draftKey(user, path));
  } catch {}
}

/** Read once by the sign-in page: which module's changes are kept across the expired session. */
export function takeSessionExpiredModule(): string | null {
  try {
    const m = sessionStorage.getItem(SESSION_EXPIRED_MODULE);
    sessionStorage.removeItem(SESSION_EXPIRED_MODULE);
    return m;
  } catch {
    return null;
  }
}

export interface RestoredDraft {
  savedAt: string;
  baseVersion: number;
  /** the module was saved (by anyone) since the draft was started */
  changedMeanwhile: boolean;
  currentVersion: number;
}

/**
 * Keeps an editor's draft in localStorage while it differs from the saved module, restores it when the editor
 * opens (after a sign-in or a reload), and forgets it once saved or discarded. While it is kept, being sent to sign
 * in (a save refused for an expired session, or any other request or the live connection finding it gone) marks it,
 * so the sign-in page can say the changes are kept.
 */
export function useKeptDraft<D>(opts: {
  path: string;
  version: number;
  draft: D;
  dirty: boolean;
  apply: (d: D) => void;
}): { restored: RestoredDraft | null } {
  const { path, version, draft, dirty, apply } = opts;
  const user = useSession().data?.user.username ?? null;
  const [loaded, setLoaded] = useState(false);
  const [restored, setRestored] = useState<RestoredDraft | null>(null);
  // the version the draft was started from: a restored one keeps its own until it is saved
  const base = useRef(version);
  const applyRef = useRef(apply);
  applyRef.current = apply;

  // biome-ignore lint/correctness/useExhaustiveDependencies: read once per user and module, not on every edit
  useEffect(() => {
    if (!user) return;
    const kept = readDraft<D>(localStorage, user, path);
    base.current = version;
    if (kept && JSON.stringify(kept.draft) !== JSON.stringify(draft)) {
      base.current = kept.baseVersion;
      applyRef.current(kept.draft);
      setRestored({
        savedAt: kept.savedAt,
        baseVersion: kept.baseVersion,
        changedMeanwhile: kept.baseVersion !== version,
        currentVersion: version,
      });
    }
    setLoaded(true);
  }, [user, path]);

  useEffect(() => {
    if (!loaded || !user) return;
    if (dirty) {
      keepDraft(localStorage, user, path, { baseVersion: base.current, savedAt: new Date().toISOString(), draft });
    } else {
      // saved or discarded: nothing left to keep, and a saved version is the base of the next draft
      dropDraft(localStorage, user, path);
      base.current = version;
      setRestored(null);
    }
  }, [loaded, user, path, draft, dirty, version]);

  // the session can be found gone by any request or by the live connection, not only by a save: whichever sends the
  // page to sign in, the mark is written first, so the sign-in page says the changes are kept
  useEffect(() => {
    if (!dirty) return;
    return beforeRedirectToLogin(() => markSessionExpired(path));
  }, [dirty, path]);

  return { restored };
}

function markSessionExpired(path: string): void {
  try {
    sessionStorage.setItem(SESSION_EXPIRED_MODULE, path);
  } catch {}
}
