import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { create as createTar } from "tar";
import { fieldError, SlipError } from "../../protocol/errors.js";
import { TERMINAL_LIMITS } from "../../protocol/limits.js";
import type { TerminalOutput, TerminalSession } from "../../protocol/terminal.js";
import type { AppContext } from "../context.js";
import { reportTimestamp } from "../runs/orchestrator-report.js";
import { AsciicastRecorder } from "./asciicast.js";

/** Who asks, as the /ui socket knows them. */
export interface TerminalUser {
  id: number;
  username: string;
  role: "admin" | "member";
}

/** The instance's agent connection, as far as terminals use it. */
export interface TerminalAgent {
  emit(event: "term:open" | "term:resize", msg: { session: string; rows: number; cols: number }): void;
  emit(event: "term:input", msg: { session: string; data: string }): void;
  emit(event: "term:close", msg: { session: string }): void;
}

/** Sessions closed but still shown (with their scrollback) to watchers who arrive late; oldest dropped first. */
const KEPT_CLOSED = 32;
/** output kept while over the rate: a screenful and more, so the flood's end is seen as it is */
const HELD_TAIL = 8192;
/** an agent that reconnects within this keeps its terminals (its shells never stopped) */
const AGENT_RETURN_MS = 30_000;

interface Session {
  view: TerminalSession;
  scrollback: TerminalOutput[];
  scrollbackBytes: number;
  recording: AsciicastRecorder;
  /** the agent's last chunk number: a chunk re-sent after a reconnect is stored once */
  lastChunk: number;
  idle: ReturnType<typeof setTimeout> | undefined;
  /** output budget (token bucket): bytes it may still push, refilled at outputBytesPerSecond */
  budget: number;
  budgetAt: number;
  /** bytes skipped since the last output sent */
  dropped: number;
  /** the newest output while over the rate, sent by `release` once the budget allows */
  held: string;
  release: ReturnType<typeof setTimeout> | undefined;
}

const key = (runId: string, instance: string) => `${runId} ${instance}`;

/**
 * The server's side of shared terminals: which are open where, who may type, the output every watcher of the run
 * gets (numbered, the last `scrollbackBytes` kept for watchers who arrive or reconnect) and the recording, stored
 * when the terminal closes as a report of its instance (asciicast v2 in a tarball, like the nodes' reports).
 */
export class TerminalHub {
  private readonly sessions = new Map<string, Session>();
  private readonly agents = new Map<string, TerminalAgent>();
  private readonly agentGone = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly closedOrder: string[] = [];
  /** pushes to every watcher of a run (the /ui run room); set when the /ui namespace is attached */
  toRun: (runId: string, event: "term:session" | "term:output", msg: TerminalSession | TerminalOutput) => void =
    () => {};

  constructor(private readonly app: AppContext) {
    app.bus.on("run-changed", (change: { runId: string; state: string }) => {
      if (!["Done", "Aborted", "Cancelled"].includes(change.state)) return;
      for (const s of this.sessions.values()) {
        if (s.view.runId === change.runId) this.finish(s, `the run ended ${change.state}`);
      }
    });
  }

  /** Refused unless the user owns the run or is an admin; the refusal names who may. */
  private steerable(user: TerminalUser, runId: string) {
    const rt = this.app.runs.get(runId);
    if (user.role !== "admin" && rt.ownerId !== user.id) {
      throw new SlipError(
        "FORBIDDEN",
        `only ${rt.owner} (the run's owner) or an admin may use a terminal of run ${rt.id}; watchers see it read-only`,
      );
    }
    return rt;
  }

  private session(runId: string, id: string): Session {
    const s = this.sessions.get(id);
    if (!s || s.view.runId !== runId) throw fieldError("session", `no terminal '${id}' in run ${runId}`, "NOT_FOUND");
    return s;
  }

  private openSession(runId: string, id: string): Session {
    const s = this.session(runId, id);
    if (!s.view.open) throw fieldError("session", `terminal '${id}' is closed (${s.view.closedReason})`, "CONFLICT");
    return s;
  }

  private agentOf(s: Session): TerminalAgent {
    const agent = this.agents.get(key(s.view.runId, s.view.instance));
    if (!agent) throw new SlipError("UNAVAILABLE", `${s.view.instance}'s agent is not connected now; try again`);
    return agent;
  }

  open(user: TerminalUser, req: { runId: string; instance: string; rows: number; cols: number }): TerminalSession {
    const rt = this.steerable(user, req.runId);
    if (rt.terminal) throw new SlipError("CONFLICT", `run ${rt.id} has ended ${rt.state}: its machines are gone`);
    if (!rt.instances.has(req.instance)) {
      throw fieldError("instance", `run ${rt.id} has no instance '${req.instance}'`, "NOT_FOUND");
    }
    const agent = this.agents.get(key(rt.id, req.instance));
    if (!agent) throw fieldError("instance", `${req.instance}'s agent is not connected (yet)`, "CONFLICT");
    const open = [...this.sessions.values()].filter((s) => s.view.runId === rt.id && s.view.open).length;
    if (open >= TERMINAL_LIMITS.sessionsPerRun) {
      throw fieldError(
        "instance",
        `run ${rt.id} has ${open} terminals open, the most it may (sessionsPerRun); close one first`,
        "LIMIT_EXCEEDED",
      );
    }
    const id = `term-${randomBytes(9).toString("base64url")}`;
    const view: TerminalSession = {
      runId: rt.id,
      id,
      instance: req.instance,
      openedBy: user.username,
      rows: req.rows,
      cols: req.cols,
      openedAt: new Date().toISOString(),
      lastSeq: 0,
      typing: null,
      open: true,
      closedReason: null,
      report: null,
    };
    const s: Session = {
      view,
      scrollback: [],
      scrollbackBytes: 0,
      recording: new AsciicastRecorder(
        { cols: req.cols, rows: req.rows, title: `${req.instance} of run ${rt.id}, opened by ${user.username}` },
        TERMINAL_LIMITS.recordingBytes,
      ),
      lastChunk: 0,
      idle: undefined,
      budget: TERMINAL_LIMITS.outputBurstBytes,
      budgetAt: Date.now(),
      dropped: 0,
      held: "",
      release: undefined,
    };
    this.sessions.set(id, s);
    this.armIdle(s);
    agent.emit("term:open", { session: id, rows: req.rows, cols: req.cols });
    this.publish(s);
    return { ...view };
  }

  input(user: TerminalUser, req: { runId: string; session: string; data: string }): null {
    const rt = this.steerable(user, req.runId);
    const s = this.openSession(rt.id, req.session);
    this.agentOf(s).emit("term:input", { session: s.view.id, data: req.data });
    this.armIdle(s);
    if (s.view.typing !== user.username) {
      s.view.typing = user.username;
      this.publish(s);
    }
    return null;
  }

  resize(user: TerminalUser, req: { runId: string; session: string; rows: number; cols: number }): TerminalSession {
    const rt = this.steerable(user, req.runId);
    const s = this.openSession(rt.id, req.session);
    // one size for everyone, like tmux: the opener's
    if (s.view.openedBy !== user.username) {
      throw fieldError(
        "session",
        `only ${s.view.openedBy}, who opened terminal '${s.view.id}', sets its size`,
        "FORBIDDEN",
      );
    }
    this.agentOf(s).emit("term:resize", { session: s.view.id, rows: req.rows, cols: req.cols });
    s.view.rows = req.rows;
    s.view.cols = req.cols;
    s.recording.resize(req.cols, req.rows);
    this.publish(s);
    return { ...s.view };
  }

  close(user: TerminalUser, req: { runId: string; session: string }): null {
    const rt = this.steerable(user, req.runId);
    const s = this.session(rt.id, req.session);
    this.finish(s, `closed by ${user.username}`);
    return null;
  }

  attach(runId: string, since: Record<string, number>): { sessions: TerminalSession[]; output: TerminalOutput[] } {
    const rt = this.app.runs.get(runId);
    const sessions = [...this.sessions.values()].filter((s) => s.view.runId === rt.id);
    return {
      sessions: sessions.map((s) => ({ ...s.view })),
      output: sessions.flatMap((s) => s.scrollback.filter((o) => o.seq > (since[s.view.id] ?? 0))),
    };
  }

  /** The agent of an instance connected (again): its terminals go on. */
  agentConnected(runId: string, instance: string, agent: TerminalAgent): void {
    const k = key(runId, instance);
    this.agents.set(k, agent);
    clearTimeout(this.agentGone.get(k));
    this.agentGone.delete(k);
  }

  /** The agent hung up: its terminals close unless it is back soon (a network blip does not stop its shells). */
  agentDisconnected(runId: string, instance: string, agent: TerminalAgent): void {
    const k = key(runId, instance);
    if (this.agents.get(k) !== agent) return;
    this.agents.delete(k);
    const timer = setTimeout(() => {
      this.agentGone.delete(k);
      for (const s of this.sessions.values()) {
        if (s.view.runId === runId && s.view.instance === instance) this.finish(s, `${instance}'s agent went away`);
      }
    }, AGENT_RETURN_MS);
    timer.unref();
    this.agentGone.set(k, timer);
  }

  /** Output from the shell, as the agent read it from the pty. */
  output(
    runId: string,
    instance: string,
    req: { session: string; chunk: number; data: string },
  ): { seq: number | null } {
    const s = this.session(runId, req.session);
    if (s.view.instance !== instance)
      throw fieldError("session", `terminal '${req.session}' is not ${instance}'s`, "FORBIDDEN");
    if (!s.view.open || req.chunk <= s.lastChunk) return { seq: null };
    s.lastChunk = req.chunk;
    this.refill(s);
    const bytes = Buffer.byteLength(req.data);
    if (s.held === "" && bytes <= s.budget) {
      s.budget -= bytes;
      return { seq: this.emitOutput(s, req.data) };
    }
    // over the rate: only the newest output is kept, and sent (saying how much was skipped) once the budget allows,
    // so a flood ends on the screen as it really ends (its last lines, the prompt)
    const all = s.held + req.data;
    s.held = all.slice(-HELD_TAIL);
    s.dropped += Buffer.byteLength(all) - Buffer.byteLength(s.held);
    if (!s.release) {
      const wait = ((Buffer.byteLength(s.held) + 200 - s.budget) / TERMINAL_LIMITS.outputBytesPerSecond) * 1000;
      s.release = setTimeout(() => this.release(s), Math.max(0, wait));
    }
    return { seq: null };
  }

  private refill(s: Session): void {
    const now = Date.now();
    s.budget = Math.min(
      TERMINAL_LIMITS.outputBurstBytes,
      s.budget + ((now - s.budgetAt) / 1000) * TERMINAL_LIMITS.outputBytesPerSecond,
    );
    s.budgetAt = now;
  }

  private release(s: Session): void {
    s.release = undefined;
    if (!s.view.open) return;
    this.refill(s);
    const said =
      s.dropped > 0
        ? `\r\n[slipstream: ${s.dropped} bytes of output dropped, over ${TERMINAL_LIMITS.outputBytesPerSecond} bytes/s]\r\n`
        : "";
    const data = said + s.held;
    s.held = "";
    s.dropped = 0;
    s.budget -= Buffer.byteLength(data);
    this.emitOutput(s, data);
  }

  /** The shell ended by itself (exit, or it could not start). */
  exited(runId: string, instance: string, req: { session: string; code: number | null; message: string }): null {
    const s = this.session(runId, req.session);
    if (s.view.instance !== instance)
      throw fieldError("session", `terminal '${req.session}' is not ${instance}'s`, "FORBIDDEN");
    this.finish(s, req.message || (req.code === null ? "the shell was killed" : `the shell exited ${req.code}`));
    return null;
  }

  private emitOutput(s: Session, data: string): number {
    const out: TerminalOutput = { runId: s.view.runId, session: s.view.id, seq: ++s.view.lastSeq, data };
    s.scrollback.push(out);
    s.scrollbackBytes += data.length;
    while (s.scrollbackBytes > TERMINAL_LIMITS.scrollbackBytes && s.scrollback.length > 1) {
      s.scrollbackBytes -= s.scrollback.shift()!.data.length;
    }
    s.recording.output(data);
    this.toRun(s.view.runId, "term:output", out);
    return out.seq;
  }

  private armIdle(s: Session): void {
    clearTimeout(s.idle);
    // read at each keystroke: an admin's change applies to open terminals from their next key on
    const seconds = this.app.settings.limits.terminalIdleSeconds;
    s.idle = setTimeout(() => this.finish(s, `nobody typed for ${idleSpan(seconds)}`), seconds * 1000);
    s.idle.unref();
  }

  private publish(s: Session): void {
    this.toRun(s.view.runId, "term:session", { ...s.view });
  }

  /** Closes a terminal once: the shell is told to stop, watchers see why, the recording becomes a report. */
  private finish(s: Session, reason: string): void {
    if (!s.view.open) return;
    clearTimeout(s.idle);
    clearTimeout(s.release);
    s.view.open = false;
    s.view.typing = null;
    s.view.closedReason = reason;
    this.agents.get(key(s.view.runId, s.view.instance))?.emit("term:close", { session: s.view.id });
    this.publish(s);
    this.closedOrder.push(s.view.id);
    while (this.closedOrder.length > KEPT_CLOSED) this.sessions.delete(this.closedOrder.shift()!);
    this.storeRecording(s).then(
      (name) => {
        s.view.report = name;
        this.publish(s);
      },
      (err: unknown) => this.app.log.error({ err, session: s.view.id }, "storing a terminal recording"),
    );
  }

  private async storeRecording(s: Session): Promise<string> {
    const { runId, instance, id } = s.view;
    const rt = this.app.runs.get(runId);
    const name = `${instance}_report_${reportTimestamp()}-${id}.tgz`;
    const file = `${id}.cast`;
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ss-term-"));
    try {
      await fs.writeFile(path.join(dir, file), this.app.secrets.redact(s.recording.text()), { mode: 0o600 });
      const target = this.app.reports.file(runId, name);
      await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      await createTar({ gzip: true, cwd: dir, file: target }, [file]);
      const size = (await fs.stat(target)).size;
      this.app.runs.addReport(rt, `user:${s.view.openedBy}`, name, instance, size);
      return name;
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
}

function idleSpan(seconds: number): string {
  if (seconds % 60 !== 0) return `${seconds} seconds`;
  return seconds === 60 ? "1 minute" : `${seconds / 60} minutes`;
}

const hubs = new WeakMap<AppContext, TerminalHub>();

/** The app's one hub, shared by its /ui and /agent namespaces. */
export function terminalsOf(app: AppContext): TerminalHub {
  let hub = hubs.get(app);
  if (!hub) {
    hub = new TerminalHub(app);
    hubs.set(app, hub);
  }
  return hub;
}
