"use client";

import { notifyManager, type QueryClient } from "@tanstack/react-query";
import { io, type Socket } from "socket.io-client";
import {
  type ReportInfo,
  type RunDetail,
  type RunEvent,
  type RunEventBody,
  type RunState,
  type RunSummary,
  TERMINAL_STATES,
} from "@/protocol/run";
import type { UiClientToServer, UiServerToClient } from "@/protocol/ui-socket";
import { PROTOCOL_VERSION } from "@/protocol/version";
import type { WaitGraph } from "@/protocol/wait-graph";
import { redirectToLogin } from "./api";
import { flushDelay, type Pacing, renderedAt } from "./flush-pacing";
import { notificationsOn, notifyRunEvents, notifyRunsChanged } from "./notifications";
import {
  appendEvents,
  foldDetail,
  foldParams,
  foldReports,
  foldRunsChanged,
  type ParamsSnapshot,
  runKeys,
} from "./run-cache";
import { newerGraph, waitGraphKey } from "./wait-graph-cache";

type UiSocket = Socket<UiServerToClient, UiClientToServer>;
/** Events that may change which actions a run allows (its state, abort flag or recovery mode). */
const STEERING_CHANGES: ReadonlySet<RunEventBody["type"]> = new Set(["state", "abort", "abort-reset", "recovery-mode"]);
/** sessionStorage key: why the server ended this browser's session (shown once by the sign-in page) */
export const SIGNED_OUT_REASON = "slipstream.signedOutReason";
/** `outdated`: the server speaks another protocol version (it was upgraded); only a reload helps. */
export type LiveStatus = "idle" | "connecting" | "online" | "offline" | "outdated";

interface Feed extends Pacing {
  refs: number;
  lastSeq: number;
  pending: RunEvent[];
  /** a (re)subscription's backlog is still arriving, a page per answer: it is folded in once, when whole */
  backlog: boolean;
  /** the page says when it has rendered a batch (`rendered`): flushes wait for it */
  reportsRenders: boolean;
  timer: ReturnType<typeof setTimeout> | null;
  dropTimer: ReturnType<typeof setTimeout> | null;
}

/**
 * The browser's one socket to `/ui`. The server pushes each followed run's events whole (log data included) and
 * every one is folded into react-query's cache; the last seq seen per run is kept so a reconnect resubscribes with
 * `since` and the server replays exactly what was missed. A run's detail is fetched again only when a batch cannot
 * be folded into it (a scale, or news that may change which actions it allows). Nothing here polls.
 */
export class Live {
  private socket: UiSocket | null = null;
  private feeds = new Map<string, Feed>();
  private runsRefs = 0;
  private statusValue: LiveStatus = "idle";
  private statusListeners = new Set<() => void>();

  constructor(private readonly qc: QueryClient) {}

  get status(): LiveStatus {
    return this.statusValue;
  }

  onStatus = (listener: () => void): (() => void) => {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  };

  private setStatus(s: LiveStatus): void {
    if (s === this.statusValue) return;
    this.statusValue = s;
    for (const l of this.statusListeners) l();
  }

  private connect(): UiSocket {
    if (this.socket) return this.socket;
    this.setStatus("connecting");
    const s: UiSocket = io("/ui", {
      auth: { protocolVersion: PROTOCOL_VERSION },
      transports: ["websocket"],
      withCredentials: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
    });
    this.socket = s;
    s.on("connect", () => {
      this.setStatus("online");
      for (const [runId, feed] of this.feeds) {
        this.subscribe(runId, feed);
        // wait-for graphs are pushed only when they change: one pushed while away is gone, so fetch it again
        this.qc.invalidateQueries({ queryKey: waitGraphKey(runId) });
      }
      // with browser notifications on, every page holding the socket hears when runs end
      if (this.runsRefs === 0 && notificationsOn()) s.emit("runs:subscribe", {}, () => {});
      if (this.runsRefs > 0) {
        s.emit("runs:subscribe", {}, () => {});
        // pushes sent while we were away are gone: refresh the lists once
        this.qc.invalidateQueries({ queryKey: ["runs"] });
      }
    });
    s.on("auth:ended", ({ reason }) => {
      // the server closes the connection right after: the sign-in page says why
      try {
        sessionStorage.setItem(SIGNED_OUT_REASON, reason);
      } catch {}
    });
    s.on("disconnect", (reason) => {
      this.setStatus("offline");
      // a backlog cut short shows what did arrive; the resubscription on reconnect asks on from there
      for (const [runId, feed] of this.feeds) {
        feed.backlog = false;
        this.flush(runId, feed);
      }
      // the server ends a connection itself only when its credential is gone (signed out, session or token
      // revoked); socket.io does not reconnect after that, so sign in again as after a refused connection
      if (reason === "io server disconnect") redirectToLogin();
    });
    s.on("connect_error", (err) => {
      if (err.message.startsWith("CONFLICT")) {
        // a refusal from the server's middleware is final (no automatic retry): the page's code is older or
        // newer than the server's, and retrying would only fail again
        this.setStatus("outdated");
        return;
      }
      this.setStatus("offline");
      if (err.message.startsWith("UNAUTHORIZED")) redirectToLogin();
    });
    s.on("run:events", (events) => {
      for (const e of events) this.onEvent(e);
    });
    s.on("runs:changed", (msg) => this.onRunsChanged(msg));
    s.on("run:watchers", (msg) => this.qc.setQueryData(runKeys.watchers(msg.runId), msg.users));
    s.on("run:waits", (g) => this.qc.setQueryData<WaitGraph>(waitGraphKey(g.runId), (old) => newerGraph(old, g)));
    return s;
  }

  /** The one /ui socket, for the run page's shared terminals (app/lib/terminal-feed.ts). */
  uiSocket(): UiSocket {
    return this.connect();
  }

  /** Tries to reconnect now rather than at the socket's next backoff step (the offline banner's Retry). */
  retryNow(): void {
    const s = this.connect();
    if (s.connected) return;
    // a socket between backoff steps waits out its delay: closing and opening it tries at once
    s.disconnect();
    s.connect();
  }

  /** Closes the socket (sign-out); the next subscription opens a new one with the new cookie. */
  close(): void {
    this.socket?.close();
    this.socket = null;
    this.feeds.clear();
    this.runsRefs = 0;
    this.setStatus("idle");
  }

  private subscribe(runId: string, feed: Feed): void {
    const s = this.socket;
    if (!s?.connected) return; // the connect handler subscribes every feed
    feed.backlog = true;
    s.emit("run:subscribe", { runId, since: feed.lastSeq }, (ack) => {
      this.qc.setQueryData<string | null>(runKeys.feedError(runId), ack.ok ? null : ack.error.message);
      if (this.feeds.get(runId) !== feed) return;
      // the backlog comes a page at a time (its events arrived before this answer): ask on from the last seq
      if (ack.ok && !ack.data.complete && s.connected) return this.subscribe(runId, feed);
      // folded and rendered once: a 1,000-instance run's 32,000 events were 16 page-sized renders of the whole
      // page, each longer than the last
      feed.backlog = false;
      this.flush(runId, feed);
    });
  }

  /** Follows one run's events while the returned function is not called. */
  followRun(runId: string): () => void {
    const s = this.connect();
    let feed = this.feeds.get(runId);
    if (feed?.dropTimer) {
      clearTimeout(feed.dropTimer);
      feed.dropTimer = null;
    }
    if (!feed) {
      const cached = this.qc.getQueryData<RunEvent[]>(runKeys.events(runId));
      if (!cached) this.qc.setQueryData<RunEvent[]>(runKeys.events(runId), []);
      feed = {
        refs: 0,
        lastSeq: cached?.at(-1)?.seq ?? 0,
        pending: [],
        backlog: false,
        cost: 0,
        reportsRenders: false,
        unrendered: null,
        timer: null,
        dropTimer: null,
      };
      this.feeds.set(runId, feed);
      this.subscribe(runId, feed);
    }
    feed.refs++;
    const f = feed;
    return () => {
      f.refs--;
      if (f.refs > 0) return;
      // a remount right after (React strict mode, fast navigation) keeps the subscription
      f.dropTimer = setTimeout(() => {
        if (f.refs > 0 || this.feeds.get(runId) !== f) return;
        this.flush(runId, f);
        this.feeds.delete(runId);
        if (s.connected) s.emit("run:unsubscribe", { runId }, () => {});
      }, 1000);
    };
  }

  /** Follows state changes of every run (run lists). */
  followRuns(): () => void {
    const s = this.connect();
    this.runsRefs++;
    if (this.runsRefs === 1 && s.connected) s.emit("runs:subscribe", {}, () => {});
    return () => {
      this.runsRefs = Math.max(0, this.runsRefs - 1);
    };
  }

  private onEvent(e: RunEvent): void {
    const feed = this.feeds.get(e.runId);
    if (!feed || e.seq <= feed.lastSeq) return; // already seen (a replay after resubscribing)
    feed.lastSeq = e.seq;
    feed.pending.push(e);
    // live events arrive in bursts: fold them into the cache together (a backlog waits for its last page); a
    // page that takes longer than a frame to render a batch waits as long before the next, so streaming writes
    // leave the main thread at least half free for input however large the run
    this.schedule(e.runId, feed);
  }

  private schedule(runId: string, feed: Feed): void {
    if (feed.timer || feed.backlog || feed.pending.length === 0) return;
    feed.timer = setTimeout(() => this.flush(runId, feed), flushDelay(feed, performance.now()));
  }

  /**
   * The page rendered what was flushed (called after its commit): the next batch follows as long after as that
   * took, so a page rendering in slices finishes one batch before the next begins.
   */
  rendered(runId: string): void {
    const feed = this.feeds.get(runId);
    if (!feed) return;
    feed.reportsRenders = true;
    if (feed.unrendered === null) return;
    Object.assign(feed, renderedAt(feed, performance.now()));
    if (feed.timer) clearTimeout(feed.timer);
    feed.timer = null;
    this.schedule(runId, feed);
  }

  private flush(runId: string, feed: Feed): void {
    if (feed.timer) clearTimeout(feed.timer);
    feed.timer = null;
    const batch = feed.pending;
    if (batch.length === 0) return;
    feed.pending = [];
    const started = performance.now();
    const qc = this.qc;
    notifyRunEvents(qc, runId, batch);
    // which actions the run allows (the detail's `allowed`) is the server's answer, not something to work out from
    // the events: when the batch holds news the cached detail has not seen and that may change it, the detail is
    // fetched again (not while the first fetch is on its way: that one answers for the run as it is now)
    const before = qc.getQueryData<RunDetail>(runKeys.detail(runId));
    const steeringChanged =
      before !== undefined && batch.some((e) => STEERING_CHANGES.has(e.body.type) && e.seq > before.lastSeq);
    // one notification of every observer, so the page renders once for the batch
    notifyManager.batch(() => {
      qc.setQueryData<RunEvent[]>(runKeys.events(runId), (old) => appendEvents(old ?? [], batch));
      qc.setQueryData<RunDetail>(runKeys.detail(runId), (old) => (old ? foldDetail(old, batch) : old));
      qc.setQueryData<ParamsSnapshot>(runKeys.params(runId), (old) => (old ? foldParams(old, batch) : old));
      qc.setQueryData<ReportInfo[]>(runKeys.reports(runId), (old) => (old ? foldReports(old, batch) : old));
    });
    if (feed.reportsRenders) feed.unrendered = started;
    else {
      // the page renders in react-query's notification task, queued just before this one
      setTimeout(() => {
        feed.cost = performance.now() - started;
      }, 0);
    }
    if (batch.some((e) => e.body.type === "scale")) {
      // instances were added or removed: their rows and keys come from the server
      qc.invalidateQueries({ queryKey: runKeys.detail(runId) });
      qc.invalidateQueries({ queryKey: runKeys.params(runId) });
    } else if (steeringChanged) {
      qc.invalidateQueries({ queryKey: runKeys.detail(runId) });
    }
  }

  private onRunsChanged(msg: { runId: string; state: RunState; abort: string | null; seq: number }): void {
    notifyRunsChanged(this.qc, msg, this.feeds.has(msg.runId));
    // machines start and stop with runs' states: a page showing clouds' usage reads it again (only if open)
    this.qc.invalidateQueries({ queryKey: ["clouds", "usage"] });
    for (const [key, data] of this.qc.getQueriesData<RunSummary[]>({ queryKey: ["runs"] })) {
      if (!data) continue;
      const filters = (key[1] ?? {}) as { state?: string };
      const next = foldRunsChanged(data, msg);
      if (next === data) continue; // the list already shows this change or a newer one
      if (next === null || (filters.state === "active" && TERMINAL_STATES.includes(msg.state))) {
        this.qc.invalidateQueries({ queryKey: key, exact: true });
      } else {
        this.qc.setQueryData(key, next);
      }
    }
  }
}
