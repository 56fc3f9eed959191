"use client";

import type { QueryClient } from "@tanstack/react-query";
import { API } from "@/protocol/catalog";
import { type RunEvent, type RunState, type RunSummary, TERMINAL_STATES } from "@/protocol/run";
import { call, type SessionInfo } from "./api";
import { runKeys } from "./run-cache";

/**
 * Browser notifications, opt-in per browser (localStorage): while a dashboard page is open (a runs list or a run
 * page, which hold the live socket), a run I launched, or whose page I have open, notifies when it ends or is
 * aborted. The news comes from the live pushes (`runs:changed`, a followed run's events), never from polling.
 */

const KEY = "slipstream.notifications";
/** A followed run's event older than this is a replay of its history, not news. */
const FRESH_MS = 60_000;

type Listener = () => void;
const listeners = new Set<Listener>();
const changed = () => {
  for (const l of listeners) l();
};

export function notificationsSupported(): boolean {
  return typeof window !== "undefined" && "Notification" in window;
}

/** What the browser allows: granted, denied (only the browser's site settings can change it), or not asked yet. */
export function notificationPermission(): NotificationPermission | "unsupported" {
  return notificationsSupported() ? Notification.permission : "unsupported";
}

/** The person's choice in this browser (not whether the browser allows it). */
export function notificationsWanted(): boolean {
  try {
    return typeof window !== "undefined" && window.localStorage.getItem(KEY) === "on";
  } catch {
    return false;
  }
}

/** On: wanted here and allowed by the browser. */
export function notificationsOn(): boolean {
  return notificationsWanted() && notificationPermission() === "granted";
}

/** Turns them on (asking the browser's permission first) or off; answers the permission it ends with. */
export async function setNotifications(on: boolean): Promise<NotificationPermission | "unsupported"> {
  if (!notificationsSupported()) return "unsupported";
  let permission = Notification.permission;
  if (on && permission === "default") permission = await Notification.requestPermission();
  try {
    if (on && permission === "granted") window.localStorage.setItem(KEY, "on");
    else window.localStorage.removeItem(KEY);
  } catch {}
  changed();
  return permission;
}

/** For useSyncExternalStore: the setting changed (here or in another tab). */
export function onNotificationsChange(listener: Listener): () => void {
  listeners.add(listener);
  const storage = (e: StorageEvent) => {
    if (e.key === KEY) listener();
  };
  window.addEventListener("storage", storage);
  return () => {
    listeners.delete(listener);
    window.removeEventListener("storage", storage);
  };
}

// ---- what is news --------------------------------------------------------------------------------------------

/** `<run>:ended` / `<run>:aborted` already shown by this page (both paths can bring the same news). */
const told = new Set<string>();

interface Known {
  owner: string | null;
  module: string | null;
  state: RunState | null;
  abort: string | null;
}

/** What the page's cache knows of a run (a runs list's row or the run's detail). */
function known(qc: QueryClient, runId: string): Known | null {
  const detail = qc.getQueryData<RunSummary>(runKeys.detail(runId));
  if (detail) return detail;
  for (const [, data] of qc.getQueriesData<unknown>({ queryKey: ["runs"] })) {
    const rows = Array.isArray(data) ? data : (data as { runs?: unknown } | undefined)?.runs;
    if (!Array.isArray(rows)) continue;
    const row = (rows as RunSummary[]).find((r) => r?.id === runId);
    if (row) return row;
  }
  return null;
}

const me = (qc: QueryClient) => qc.getQueryData<SessionInfo | null>(["session"])?.user.username ?? null;

function show(runId: string, kind: "ended" | "aborted" | "expired", title: string, body: string): void {
  const key = `${runId}:${kind}`;
  if (told.has(key) || !notificationsOn()) return;
  told.add(key);
  try {
    const n = new Notification(title, { body, tag: key });
    n.onclick = () => {
      window.focus();
      window.location.assign(`/runs/${encodeURIComponent(runId)}`);
      n.close();
    };
  } catch {
    // some browsers allow notifications from a service worker only: nothing to show then
  }
}

function tell(runId: string, info: Known, kind: "ended" | "aborted", state: RunState, abort: string | null): void {
  const what = info.module ?? runId.slice(0, 8);
  if (kind === "aborted") show(runId, kind, "Run aborted", `${what}${abort ? `: ${abort}` : ""}`);
  else show(runId, kind, `Run ended ${state}`, `${what}${abort ? ` — ${abort}` : ""}`);
}

/**
 * A `runs:changed` push, before the lists fold it (so the cache still holds the run as it was). `watching`: this
 * page follows the run's events.
 */
export function notifyRunsChanged(
  qc: QueryClient,
  msg: { runId: string; state: RunState; abort: string | null },
  watching: boolean,
): void {
  if (!notificationsOn()) return;
  const ended = TERMINAL_STATES.includes(msg.state);
  const before = known(qc, msg.runId);
  const aborted = msg.abort !== null && before !== null && before.abort === null;
  if (!ended && !aborted) return;
  if (ended && before?.state && TERMINAL_STATES.includes(before.state)) return;
  const decide = (info: Known) => {
    if (!watching && (info.owner === null || info.owner !== me(qc))) return;
    if (aborted) tell(msg.runId, info, "aborted", msg.state, msg.abort);
    if (ended) tell(msg.runId, info, "ended", msg.state, msg.abort);
  };
  if (before?.owner) decide(before);
  else {
    // a run no list of this page shows: whose it is comes from the server
    call(API.getRun, { params: { id: msg.runId } })
      .then((run) => decide(run))
      .catch(() => {});
  }
}

/** Events of a run whose page is open: its end or its abort, when they are news (not the history replayed). */
export function notifyRunEvents(qc: QueryClient, runId: string, events: RunEvent[]): void {
  if (!notificationsOn()) return;
  const now = Date.now();
  for (const e of events) {
    if (now - Date.parse(e.at) > FRESH_MS) continue;
    const info = known(qc, runId) ?? { owner: null, module: null, state: null, abort: null };
    if (e.body.type === "abort" && e.body.first)
      tell(runId, info, "aborted", info.state ?? "Executing", e.body.message);
    if (e.body.type === "state" && TERMINAL_STATES.includes(e.body.to)) {
      tell(runId, info, "ended", e.body.to, info.abort);
    }
    // a kept run's machines going away unasked: say why (its end follows as usual)
    if (e.body.type === "kept-expired") {
      show(runId, "expired", "Kept run terminated", `${info.module ?? runId.slice(0, 8)}: ${e.body.message}`);
    }
  }
}
