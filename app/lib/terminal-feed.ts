"use client";

import type { Socket } from "socket.io-client";
import { TERMINAL_LIMITS } from "@/protocol/limits";
import type { TerminalOutput, TerminalSession } from "@/protocol/terminal";
import type { UiClientToServer, UiServerToClient } from "@/protocol/ui-socket";

type UiSocket = Socket<UiServerToClient, UiClientToServer>;
type OutputListener = (chunk: TerminalOutput) => void;

/**
 * A run's shared terminals as one browser sees them: the sessions (pushed as they open, change and close) and each
 * one's output in seq order. Chunks are applied once, in order: a push that skips a number, and every reconnect,
 * asks the server (`term:attach` with the last seq seen per terminal) for what was missed. Output is kept per
 * terminal up to the server's scrollback, so a terminal view mounted later replays it.
 */
export class TerminalFeed {
  private sessionsValue: TerminalSession[] = [];
  private readonly lastSeq = new Map<string, number>();
  private readonly chunks = new Map<string, { list: TerminalOutput[]; bytes: number }>();
  private readonly sessionListeners = new Set<() => void>();
  private readonly outputListeners = new Map<string, Set<OutputListener>>();
  private catchingUp = false;
  private readonly off: (() => void)[] = [];

  constructor(
    private readonly socket: UiSocket,
    private readonly runId: string,
  ) {
    const onSession = (s: TerminalSession) => {
      if (s.runId === this.runId) this.setSession(s);
    };
    const onOutput = (o: TerminalOutput) => {
      if (o.runId === this.runId) this.add(o);
    };
    const onConnect = () => this.catchUp();
    socket.on("term:session", onSession);
    socket.on("term:output", onOutput);
    socket.on("connect", onConnect);
    this.off.push(
      () => socket.off("term:session", onSession),
      () => socket.off("term:output", onOutput),
      () => socket.off("connect", onConnect),
    );
    this.catchUp();
  }

  close(): void {
    for (const f of this.off.splice(0)) f();
  }

  get sessions(): TerminalSession[] {
    return this.sessionsValue;
  }

  onSessions = (l: () => void): (() => void) => {
    this.sessionListeners.add(l);
    return () => this.sessionListeners.delete(l);
  };

  /** Every chunk of `session` kept so far, then each new one as it comes. */
  follow(session: string, l: OutputListener): () => void {
    for (const c of this.chunks.get(session)?.list ?? []) l(c);
    const set = this.outputListeners.get(session) ?? new Set();
    set.add(l);
    this.outputListeners.set(session, set);
    return () => set.delete(l);
  }

  private setSession(s: TerminalSession): void {
    const i = this.sessionsValue.findIndex((x) => x.id === s.id);
    this.sessionsValue = i < 0 ? [...this.sessionsValue, s] : this.sessionsValue.map((x, j) => (j === i ? s : x));
    for (const l of this.sessionListeners) l();
    // a session that printed more than this browser has: fetch the difference
    if (s.lastSeq > (this.lastSeq.get(s.id) ?? 0)) this.catchUp();
  }

  private add(o: TerminalOutput): void {
    const last = this.lastSeq.get(o.session) ?? 0;
    if (o.seq <= last) return;
    if (o.seq > last + 1) {
      this.catchUp();
      return;
    }
    this.lastSeq.set(o.session, o.seq);
    const kept = this.chunks.get(o.session) ?? { list: [], bytes: 0 };
    kept.list.push(o);
    kept.bytes += o.data.length;
    while (kept.bytes > TERMINAL_LIMITS.scrollbackBytes && kept.list.length > 1) {
      kept.bytes -= kept.list.shift()!.data.length;
    }
    this.chunks.set(o.session, kept);
    for (const l of this.outputListeners.get(o.session) ?? []) l(o);
  }

  private catchUp(): void {
    if (this.catchingUp || !this.socket.connected) return;
    this.catchingUp = true;
    this.socket.emit("term:attach", { runId: this.runId, since: Object.fromEntries(this.lastSeq) }, (ack) => {
      this.catchingUp = false;
      if (!ack.ok) return;
      for (const s of ack.data.sessions) {
        const i = this.sessionsValue.findIndex((x) => x.id === s.id);
        this.sessionsValue = i < 0 ? [...this.sessionsValue, s] : this.sessionsValue.map((x, j) => (j === i ? s : x));
      }
      for (const l of this.sessionListeners) l();
      for (const o of ack.data.output) {
        // what the server no longer keeps is skipped: the terminal goes on from the oldest chunk it has
        const last = this.lastSeq.get(o.session) ?? 0;
        if (o.seq > last + 1) this.lastSeq.set(o.session, o.seq - 1);
        this.add(o);
      }
    });
  }
}
