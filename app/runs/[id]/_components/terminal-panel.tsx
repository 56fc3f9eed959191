"use client";

import "@xterm/xterm/css/xterm.css";
import { useEffect, useId, useRef, useState, useSyncExternalStore } from "react";
import { useSession } from "@/app/lib/session";
import { TerminalFeed } from "@/app/lib/terminal-feed";
import { useLive } from "@/app/providers";
import type { RunDetail } from "@/protocol/run";
import { TERMINAL_STATES } from "@/protocol/run";
import type { TerminalSession } from "@/protocol/terminal";
import { Section } from "./section";

/** The size the opener's terminals get: one size for every watcher (like tmux). */
const OPEN_ROWS = 24;
const OPEN_COLS = 100;
const NO_SESSIONS: TerminalSession[] = [];

function useTerminalFeed(runId: string): TerminalFeed | null {
  const live = useLive();
  const [feed, setFeed] = useState<TerminalFeed | null>(null);
  useEffect(() => {
    const f = new TerminalFeed(live.uiSocket(), runId);
    setFeed(f);
    return () => f.close();
  }, [live, runId]);
  return feed;
}

/**
 * Shared terminals of the run: the owner or an admin opens a shell in an instance and types; everyone watching the
 * run sees each terminal live, read-only, with who typed last. A closed terminal's recording is in the reports.
 */
export function TerminalPanel({ run }: { run: RunDetail }) {
  const uid = useId();
  const me = useSession().data?.user;
  const feed = useTerminalFeed(run.id);
  const sessions = useSyncExternalStore(
    feed?.onSessions ?? (() => () => {}),
    () => feed?.sessions ?? NO_SESSIONS,
    () => NO_SESSIONS,
  );
  const steerable = !!me && (me.role === "admin" || me.username === run.owner);
  const ended = TERMINAL_STATES.includes(run.state);
  const instances = run.instances.filter((i) => i.live).map((i) => i.name);
  const [instance, setInstance] = useState("");
  const [selected, setSelected] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const live = useLive();

  const chosen = instance || instances[0] || "";
  const shown = sessions.find((s) => s.id === selected) ?? sessions.findLast((s) => s.open) ?? sessions.at(-1);

  const open = () => {
    setError(null);
    live.uiSocket().emit("term:open", { runId: run.id, instance: chosen, rows: OPEN_ROWS, cols: OPEN_COLS }, (ack) => {
      if (ack.ok) setSelected(ack.data.id);
      else setError(ack.error.message);
    });
  };
  const close = (session: string) =>
    live.uiSocket().emit("term:close", { runId: run.id, session }, (ack) => {
      if (!ack.ok) setError(ack.error.message);
    });

  if (!steerable && sessions.length === 0) return null;
  return (
    <Section title="Terminal" id={`${uid}-terminal`} className="terminal-panel">
      {steerable && !ended && (
        <div className="terminal-open">
          <label className="field inline compact">
            <span>Instance</span>
            <select value={chosen} onChange={(e) => setInstance(e.target.value)} aria-label="Instance for the terminal">
              {instances.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <button type="button" className="button primary" disabled={!chosen} onClick={open}>
            Open terminal
          </button>
        </div>
      )}
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      {sessions.length > 0 && (
        <div className="tabs" role="tablist" aria-label="Terminals">
          {sessions.map((s) => (
            <button
              key={s.id}
              type="button"
              role="tab"
              aria-selected={s.id === shown?.id}
              className={`tab ${s.id === shown?.id ? "active" : ""}`}
              onClick={() => setSelected(s.id)}
            >
              <span className="mono">{s.instance}</span>
              <span className="muted small">{s.open ? "live" : "closed"}</span>
            </button>
          ))}
        </div>
      )}
      {shown && feed && (
        <div className="terminal-session" data-terminal={shown.id}>
          <p className="muted small terminal-status" data-testid="terminal-status">
            Opened by <b>{shown.openedBy}</b> · {shown.cols}×{shown.rows}
            {shown.open
              ? shown.typing
                ? ` · ${shown.typing} is typing`
                : " · nobody typed yet"
              : ` · closed: ${shown.closedReason}`}
            {shown.report && ` · recording: ${shown.report}`}
            {!steerable && " · read-only"}
          </p>
          <XtermView
            key={shown.id}
            feed={feed}
            session={shown}
            onInput={
              steerable && shown.open
                ? (data) =>
                    live.uiSocket().emit("term:input", { runId: run.id, session: shown.id, data }, (ack) => {
                      if (!ack.ok) setError(ack.error.message);
                    })
                : null
            }
          />
          {steerable && shown.open && (
            <button type="button" className="button" onClick={() => close(shown.id)}>
              Close terminal
            </button>
          )}
        </div>
      )}
    </Section>
  );
}

/** One terminal drawn by xterm.js at the session's one size; keys go to the server only when `onInput` is given. */
function XtermView({
  feed,
  session,
  onInput,
}: {
  feed: TerminalFeed;
  session: TerminalSession;
  onInput: ((data: string) => void) | null;
}) {
  const host = useRef<HTMLDivElement>(null);
  const inputRef = useRef(onInput);
  inputRef.current = onInput;
  const term = useRef<import("@xterm/xterm").Terminal | null>(null);

  useEffect(() => {
    let disposed = false;
    let unfollow = () => {};
    // xterm.js touches the DOM when loaded: only in the browser, after mount
    void import("@xterm/xterm").then(({ Terminal }) => {
      if (disposed || !host.current) return;
      const t = new Terminal({
        rows: session.rows,
        cols: session.cols,
        convertEol: false,
        disableStdin: inputRef.current === null,
        fontSize: 13,
        scrollback: 2000,
      });
      t.open(host.current);
      t.onData((data) => inputRef.current?.(data));
      unfollow = feed.follow(session.id, (chunk) => t.write(chunk.data));
      term.current = t;
    });
    return () => {
      disposed = true;
      unfollow();
      term.current?.dispose();
      term.current = null;
    };
  }, [feed, session.id, session.rows, session.cols]);

  useEffect(() => {
    if (term.current) term.current.options.disableStdin = onInput === null;
  }, [onInput]);

  return (
    <div
      ref={host}
      className="terminal-screen"
      data-testid="terminal-screen"
      data-readonly={onInput === null ? "true" : "false"}
    />
  );
}
