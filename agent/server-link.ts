import { randomBytes } from "node:crypto";
import { io, type Socket } from "socket.io-client";
import { z } from "zod";
import { type Ack, type AckFn, ackSchema } from "../protocol/ack.js";
import {
  AGENT_PUSHES,
  type AgentAssignment,
  type AgentClientToServer,
  type AgentRunState,
  type AgentServerToClient,
  requestIdOf,
} from "../protocol/agent-socket.js";
import type { ApiError } from "../protocol/errors.js";
import { PROTOCOL_VERSION } from "../protocol/version.js";
import { pinnedAgent } from "./tls-pin.js";

export type AgentEvent = keyof AgentClientToServer;
type Payload<E extends AgentEvent> = Parameters<AgentClientToServer[E]>[0];
type AckData<E extends AgentEvent> = Parameters<AgentClientToServer[E]>[1] extends AckFn<infer T> ? T : never;

interface LinkHandlers {
  hello(run: AgentRunState, assignment: AgentAssignment): void;
  runState(run: AgentRunState): void;
  /** the server refused this agent for good (bad token, protocol version, duplicate) */
  fatal(message: string): void;
  log(line: string): void;
  /** agent-process output only (not the instance log) */
  debug(line: string): void;
}

interface RequestOptions {
  /** an ss-* command waits on it: fails with UNAVAILABLE when the server stays away too long */
  fromCommand?: boolean;
}

interface Pending {
  event: AgentEvent;
  payload: Record<string, unknown>;
  createdAt: number;
  /** connection epoch it was last sent on; 0 = not yet */
  epoch: number;
  fromCommand: boolean;
  resolve(ack: Ack<unknown>): void;
  deadline?: NodeJS.Timeout;
}

const AnyAck = ackSchema(z.unknown());
const FATAL = /^(UNAUTHORIZED|CONFLICT)\b/;
/** waits the server should have answered (it owns the timeout) plus this before we give up ourselves */
const DEADLINE_SLACK_MS = 5000;
/**
 * Refusals that say "not now" rather than "no": the server could not store the request (disk full, read-only
 * database) or cannot take it yet. The agent's own requests (log chunks, completions) are kept and re-sent.
 */
const RETRIED = new Set(["STORAGE_FULL", "UNAVAILABLE"]);
const OWN_RETRY_FIRST_MS = 250;
const OWN_RETRY_MAX_MS = 5000;
/**
 * Reconnect back-off after the server went away: low, so a restarted server has every agent back (and every blocked
 * ss-get re-sent) within a second of listening again; socket.io jitters each delay by ±50 %, so a fleet does not
 * reconnect in lockstep.
 */
const RECONNECT_FIRST_MS = 100;
const RECONNECT_MAX_MS = 250;
/** after the server refused the connection (not a transport failure): it answered, so it is up; retry a bit slower */
const REFUSED_RETRY_MAX_MS = 2000;

/**
 * The agent's one socket.io connection. Every request is kept until its first ack and re-sent on each
 * new connection: an ack of an emit made before a disconnect never fires. Each carries a request id unique to this
 * agent process (protocol `requestIdOf`: when it was made, the session, a counter), the same on every send, so the
 * server answers a re-send as it answered the first (log chunks are also deduplicated by their chunk number) and can
 * drop the wait of a command that exited.
 */
export class ServerLink {
  private readonly socket: Socket<AgentServerToClient, AgentClientToServer>;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** makes request ids unique across agent processes of one instance (a restarted agent counts from 1 again) */
  private readonly session = randomBytes(6).toString("base64url");
  /** bumped at each agent:hello; requests are only sent once the server said hello on this connection */
  private epoch = 0;
  private ready = false;
  private offlineSince: number | null = Date.now();
  private offlineTimer: NodeJS.Timeout | undefined;
  private retryDelay = RECONNECT_FIRST_MS;
  /** the agent's own requests refused "not now" wait for this timer; new ones queue behind them, in order */
  private ownRetry: NodeJS.Timeout | undefined;
  private ownRetryDelay = OWN_RETRY_FIRST_MS;
  private holdingOwn = false;
  private readonly drainWaiters: (() => void)[] = [];
  /** the last certificate refusal said in the instance log (each new one is said once, not at every retry) */
  private refusedCert: string | null = null;

  constructor(
    serviceUrl: string,
    token: string,
    private readonly handlers: LinkHandlers,
    private readonly serverWaitMs: number,
    /** the server's certificate fingerprint: the connection is refused unless the server presents it */
    serverCertSha256?: string,
  ) {
    this.socket = io(`${serviceUrl}/agent`, {
      auth: { token, protocolVersion: PROTOCOL_VERSION },
      ...(serverCertSha256 ? { agent: pinnedAgent(serverCertSha256, (m) => this.onCertRefused(m)) as never } : {}),
      transports: ["websocket"],
      reconnectionDelay: RECONNECT_FIRST_MS,
      reconnectionDelayMax: RECONNECT_MAX_MS,
      autoConnect: false,
    });
    this.socket.on("connect_error", (err) => this.onConnectError(err));
    this.socket.on("disconnect", (reason) => this.onDisconnect(reason));
    this.socket.on("agent:hello", (msg) => this.onHello(msg));
    this.socket.on("run:state", (msg) => {
      const run = AGENT_PUSHES["run:state"].safeParse(msg);
      if (run.success) this.handlers.runState(run.data);
      else this.handlers.log(`ignoring malformed run:state: ${run.error.message}`);
    });
    this.armOfflineTimer();
  }

  connect(): void {
    this.socket.connect();
  }

  /** Handles one of the server's pushes, checked against its schema (a malformed one is said and dropped). */
  onPush<E extends keyof typeof AGENT_PUSHES>(event: E, fn: (msg: z.output<(typeof AGENT_PUSHES)[E]>) => void): void {
    (this.socket.on as (e: string, l: (m: unknown) => void) => unknown).call(this.socket, event, (msg: unknown) => {
      const parsed = AGENT_PUSHES[event].safeParse(msg);
      if (parsed.success) fn(parsed.data as z.output<(typeof AGENT_PUSHES)[E]>);
      else this.handlers.log(`ignoring malformed ${event}: ${parsed.error.message}`);
    });
  }

  close(): void {
    clearTimeout(this.offlineTimer);
    clearTimeout(this.ownRetry);
    for (const p of this.pending.values()) clearTimeout(p.deadline);
    this.socket.close();
  }

  /** Sends now if connected, else on the next connection; resolves with the first ack. */
  request<E extends AgentEvent>(event: E, payload: Payload<E>, opts: RequestOptions = {}): Promise<Ack<AckData<E>>> {
    return this.start(event, payload, opts).done;
  }

  /** Like request, with the id that `settle` takes. */
  start<E extends AgentEvent>(
    event: E,
    payload: Payload<E>,
    opts: RequestOptions = {},
  ): { id: number; done: Promise<Ack<AckData<E>>> } {
    const id = this.nextId++;
    const createdAt = Date.now();
    const done = new Promise<Ack<AckData<E>>>((resolve) => {
      const entry: Pending = {
        event,
        payload: { ...(payload as Record<string, unknown>), requestId: requestIdOf(createdAt, this.session, id) },
        createdAt,
        epoch: 0,
        fromCommand: opts.fromCommand === true,
        resolve: resolve as (ack: Ack<unknown>) => void,
      };
      this.pending.set(id, entry);
      if (entry.fromCommand && this.offlineSince !== null && Date.now() - this.offlineSince >= this.serverWaitMs) {
        this.settle(id, { ok: false, error: this.unreachableError() });
        return;
      }
      const timeout = entry.payload.timeout;
      if (typeof timeout === "number" && timeout > 0) {
        entry.deadline = setTimeout(
          () => this.settle(id, { ok: false, error: { code: "TIMEOUT", message: this.timeoutMessage(entry) } }),
          timeout * 1000 + DEADLINE_SLACK_MS,
        );
      }
      // behind the agent's own requests that wait to be re-sent: log chunks must reach the server in order
      if (this.ready && !(this.holdingOwn && !entry.fromCommand)) this.send(id, entry);
    });
    return { id, done };
  }

  /** Answers a pending request locally (abort, caller gone); a later server ack is then ignored. */
  settle(id: number, ack: Ack<unknown>): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    clearTimeout(entry.deadline);
    entry.resolve(ack);
    if (this.drainWaiters.length && !this.hasOwnBacklog()) {
      for (const done of this.drainWaiters.splice(0)) done();
    }
  }

  /**
   * The command behind a pending request exited: settles it locally like `settle`, and if it was a wait the server
   * already has, asks the server to drop it (a re-send after a reconnect would not happen any more, but the wait on
   * the server would stay until the value is set or the run ends).
   */
  abandon(id: number, ack: Ack<unknown>): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.settle(id, ack);
    if (entry.epoch > 0 && (entry.event === "param:get" || entry.event === "param:get-all")) {
      void this.request("param:cancel", { wait: String(entry.payload.requestId) });
    }
  }

  /** Resolves once the agent's own requests (log chunks, completions) are acknowledged, or after `ms`. */
  drained(ms: number): Promise<void> {
    if (!this.ready || !this.hasOwnBacklog()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.drainWaiters.push(done);
    });
  }

  private hasOwnBacklog(): boolean {
    return [...this.pending.values()].some((p) => !p.fromCommand);
  }

  private send(id: number, entry: Pending): void {
    let payload = entry.payload;
    const timeout = payload.timeout;
    if (entry.epoch > 0 && typeof timeout === "number" && timeout > 0) {
      // a re-sent wait keeps its original deadline
      const remaining = timeout - (Date.now() - entry.createdAt) / 1000;
      if (remaining < 0.001) {
        this.settle(id, { ok: false, error: { code: "TIMEOUT", message: this.timeoutMessage(entry) } });
        return;
      }
      payload = { ...payload, timeout: Math.ceil(remaining * 1000) / 1000 };
    }
    entry.epoch = this.epoch;
    const emit = this.socket.emit as unknown as (event: string, payload: unknown, ack: (res: unknown) => void) => void;
    emit.call(this.socket, entry.event, payload, (res: unknown) => {
      const parsed = AnyAck.safeParse(res);
      const ack: Ack<unknown> = parsed.success
        ? (parsed.data as Ack<unknown>)
        : { ok: false, error: { code: "INTERNAL", message: `malformed ack to ${entry.event}` } };
      if (!entry.fromCommand && this.pending.get(id) === entry) {
        if (!ack.ok && RETRIED.has(ack.error.code)) {
          this.retryOwn(entry, ack.error);
          return;
        }
        this.ownRetryDelay = OWN_RETRY_FIRST_MS;
      }
      this.settle(id, ack);
    });
  }

  /**
   * Keeps one of the agent's own requests that the server could not store, and re-sends it (with the same request
   * id) and every own request queued behind it after a back-off: nothing the agent produced is dropped, however
   * long the server's disk stays full.
   */
  private retryOwn(entry: Pending, error: ApiError): void {
    entry.epoch = 0; // not on the server: re-sent by the timer, or by the next hello
    if (!this.holdingOwn) {
      this.handlers.log(
        `server cannot take ${entry.event} now (${error.code}: ${error.message}): keeping it, retrying`,
      );
    }
    this.holdingOwn = true;
    if (this.ownRetry) return;
    const delay = this.ownRetryDelay;
    this.ownRetryDelay = Math.min(delay * 2, OWN_RETRY_MAX_MS);
    this.handlers.debug(`retrying the agent's own requests in ${delay} ms (${error.code})`);
    this.ownRetry = setTimeout(() => {
      this.ownRetry = undefined;
      this.holdingOwn = false;
      if (!this.ready) return; // the next hello re-sends them
      for (const [id, p] of this.pending) if (!p.fromCommand && p.epoch === 0) this.send(id, p);
    }, delay);
  }

  private onHello(msg: unknown): void {
    const hello = AGENT_PUSHES["agent:hello"].safeParse(msg);
    if (!hello.success) {
      this.handlers.log(`ignoring malformed agent:hello: ${hello.error.message}`);
      return;
    }
    this.epoch++;
    this.ready = true;
    this.retryDelay = RECONNECT_FIRST_MS;
    this.offlineSince = null;
    clearTimeout(this.offlineTimer);
    const resend = [...this.pending].filter(([, p]) => p.epoch < this.epoch);
    if (resend.some(([, p]) => p.epoch > 0)) this.handlers.log(`reconnected: re-sending ${resend.length} request(s)`);
    for (const [id, p] of resend) this.send(id, p);
    this.handlers.hello(hello.data.run, hello.data.assignment);
  }

  private onCertRefused(message: string): void {
    if (this.refusedCert === message) return;
    this.refusedCert = message;
    this.handlers.log(message);
  }

  private onDisconnect(reason: string): void {
    this.ready = false;
    this.offlineSince = Date.now();
    this.armOfflineTimer();
    this.handlers.log(`disconnected from server: ${reason}`);
    // the client only reconnects by itself after transport failures, not when the server hung up
    if (reason === "io server disconnect") this.retryLater();
  }

  private onConnectError(err: Error): void {
    if (FATAL.test(err.message)) {
      this.handlers.fatal(err.message);
      return;
    }
    const cause = (err as Error & { description?: { message?: string } }).description?.message;
    // stdout only: a long outage must not pile up chunks for the instance log
    this.handlers.debug(`cannot connect to server: ${err.message}${cause ? ` (${cause})` : ""}`);
    // a middleware refusal stops socket.io's own retries (`active` false); transport errors keep them
    if (!this.socket.active) this.retryLater();
  }

  private retryLater(): void {
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.retryDelay * 2, REFUSED_RETRY_MAX_MS);
    setTimeout(() => {
      if (!this.socket.connected) this.socket.connect();
    }, delay);
  }

  private armOfflineTimer(): void {
    clearTimeout(this.offlineTimer);
    this.offlineTimer = setTimeout(() => {
      for (const [id, p] of this.pending) {
        if (p.fromCommand) this.settle(id, { ok: false, error: this.unreachableError() });
      }
    }, this.serverWaitMs);
    this.offlineTimer.unref();
  }

  private unreachableError(): ApiError {
    return { code: "UNAVAILABLE", message: `server unreachable for ${Math.round(this.serverWaitMs / 1000)} s` };
  }

  private timeoutMessage(p: Pending): string {
    return `timed out waiting for ${String(p.payload.key ?? p.payload.name ?? p.event)}`;
  }
}
