import type { Namespace, Server, Socket } from "socket.io";
import {
  describeZodError,
  PROTOCOL_VERSION,
  SlipError,
  UI_REQUESTS,
  UiAuth,
  type UiClientToServer,
  type UiServerToClient,
} from "../../protocol/index.js";
import { readCookie, SESSION_COOKIE } from "../auth/cookies.js";
import type { Check, Credential } from "../auth/service.js";
import type { CredentialsEnded } from "../bus.js";
import type { AppContext } from "../context.js";
import { readEvents } from "../runs/event-log.js";
import { answerTerminalUi, terminalPushes } from "../terminal/sockets.js";
import { answer } from "./ack.js";

interface UiData {
  username: string;
  userId: number;
  /** the credential it connected with, re-checked on every request so a revoked token or ended session stops at once */
  token?: string;
  cookie?: string;
  /** the same, by hash: the socket is in its room, closed when the credential ends */
  credential: Credential;
  /** when the credential expires by itself (null: never): the socket is closed then */
  expiresAt: number | null;
}
type UiSocket = Socket<UiClientToServer, UiServerToClient, Record<string, never>, UiData>;

const BACKLOG_PAGE = 2000;
const BACKLOG_BYTES = 1024 * 1024;
/** setTimeout's longest delay (~24.8 days): a longer-lived credential's timer is armed again when it fires */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Rooms every socket of a credential, or of a user, is in: ending a credential closes them in one call. */
const userRoom = (userId: number) => `user:${userId}`;
const credentialRoom = (c: Credential) => `${c.kind}:${c.hash}`;

/**
 * The `/ui` namespace. Subscribing replays the run's events after `since`, a page at a time, and with the last page
 * streams live ones; both happen in one synchronous step, so nothing committed in between can be missed or sent
 * twice.
 */
export function attachUiNamespace(io: Server, app: AppContext) {
  const nsp: Namespace<UiClientToServer, UiServerToClient, Record<string, never>, UiData> = io.of(
    "/ui",
  ) as unknown as Namespace<UiClientToServer, UiServerToClient, Record<string, never>, UiData>;
  const watchers = new Map<string, Map<string, number>>();

  nsp.use((socket, next) => {
    const auth = UiAuth.safeParse(socket.handshake.auth);
    if (!auth.success) return next(new Error(`BAD_REQUEST: auth: ${describeZodError(auth.error)}`));
    if (auth.data.protocolVersion !== PROTOCOL_VERSION) {
      return next(
        new Error(`CONFLICT: protocol ${auth.data.protocolVersion}, server speaks ${PROTOCOL_VERSION}; reload`),
      );
    }
    // only user credentials: a user API token or the browser's session cookie (agent tokens are not users)
    const token = auth.data.token;
    const cookie = token ? undefined : readCookie(socket.handshake.headers.cookie, SESSION_COOKIE);
    const who = check(token, cookie);
    if (!who.ok) return next(new Error(`UNAUTHORIZED: ${who.reason}`));
    socket.data = {
      username: who.user.username,
      userId: who.user.id,
      token,
      cookie,
      credential: who.credential,
      expiresAt: who.expiresAt,
    };
    next();
  });

  const check = (token: string | undefined, cookie: string | undefined): Check => {
    if (token) return app.auth.checkToken(token);
    const session = app.auth.session(cookie);
    return session ? { ok: true, ...session } : { ok: false, reason: "sign in first" };
  };
  /** Tells the client why (the browser shows it on the sign-in page), then closes; it does not reconnect by itself. */
  const end = (socket: UiSocket, reason: string) => {
    socket.emit("auth:ended", { reason });
    socket.disconnect(true);
  };
  /** Re-checks the socket's credential; a revoked one ends the connection. */
  const stillSignedIn = (socket: UiSocket) => {
    const who = check(socket.data.token, socket.data.cookie);
    if (!who.ok) {
      setTimeout(() => end(socket, who.reason), 0);
      throw new SlipError("UNAUTHORIZED", who.reason);
    }
    return who.user;
  };
  /** Closes the socket when its credential expires: one timer per socket, no polling. */
  const expiryTimer = (socket: UiSocket, rearm: () => void): ReturnType<typeof setTimeout> | undefined => {
    const at = socket.data.expiresAt;
    if (at === null) return undefined;
    const timer = setTimeout(
      () => {
        if (!socket.connected) return;
        if (app.auth.now() < at) return rearm();
        end(
          socket,
          socket.data.credential.kind === "token"
            ? "the token expired; run slipstream login again"
            : "your session expired; sign in again",
        );
      },
      Math.min(Math.max(0, at - app.auth.now()), MAX_TIMER_MS),
    );
    timer.unref();
    return timer;
  };

  const watcherList = (runId: string) => ({ runId, users: [...(watchers.get(runId)?.keys() ?? [])].sort() });
  /**
   * The whole room hears of it only when the list of users changes; another socket of a user already watching gets
   * the list alone (a room-wide push per subscribe made N subscribes cost N² packets: 2,000 watchers, 2 million).
   */
  const watch = (runId: string, socket: UiSocket, delta: number) => {
    const username = socket.data.username;
    const m = watchers.get(runId) ?? new Map<string, number>();
    const before = m.get(username) ?? 0;
    const n = before + delta;
    if (n > 0) m.set(username, n);
    else m.delete(username);
    if (m.size) watchers.set(runId, m);
    else watchers.delete(runId);
    if (before > 0 !== n > 0) nsp.to(`run:${runId}`).emit("run:watchers", watcherList(runId));
    else if (delta > 0) socket.emit("run:watchers", watcherList(runId));
  };

  nsp.on("connection", (socket: UiSocket) => {
    const subscribed = new Set<string>();
    socket.join([userRoom(socket.data.userId), credentialRoom(socket.data.credential)]);
    let expiry: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      expiry = expiryTimer(socket, arm);
    };
    arm();
    answer(socket, app.log, UI_REQUESTS, "run:subscribe", (req) => {
      stillSignedIn(socket);
      const rt = app.runs.get(req.runId);
      // one bounded page per request: a client asks for the next (from the last seq it got) once it has this one,
      // so a slow reader holds at most a page in its socket's buffer; the live stream starts only with the last
      // page, in the same synchronous step, so nothing committed in between is missed or sent twice
      const page = readEvents(app.db, rt.id, req.since, BACKLOG_PAGE, undefined, BACKLOG_BYTES);
      if (page.length > 0) socket.emit("run:events", page);
      const complete = page.length === 0 || page[page.length - 1].seq >= rt.lastSeq;
      if (!complete) {
        // a socket asking again from further back (already following) pages through it before live ones resume
        socket.leave(`run:${rt.id}`);
        return { lastSeq: rt.lastSeq, backlog: page.length, complete };
      }
      socket.join(`run:${rt.id}`);
      if (!subscribed.has(rt.id)) {
        subscribed.add(rt.id);
        watch(rt.id, socket, 1);
      }
      return { lastSeq: rt.lastSeq, backlog: page.length, complete };
    });
    answer(socket, app.log, UI_REQUESTS, "run:unsubscribe", (req) => {
      socket.leave(`run:${req.runId}`);
      if (subscribed.delete(req.runId)) watch(req.runId, socket, -1);
      return null;
    });
    answerTerminalUi(socket, app, () => stillSignedIn(socket));
    answer(socket, app.log, UI_REQUESTS, "runs:subscribe", () => {
      stillSignedIn(socket);
      socket.join("runs");
      return null;
    });
    socket.on("disconnect", () => {
      clearTimeout(expiry);
      for (const runId of subscribed) watch(runId, socket, -1);
    });
  });

  app.bus.on("events", (runId, events) => {
    const room = `run:${runId}`;
    // socket.io encodes a packet before it looks for the room's members: a run nobody watches (most writes of a CI
    // run) would pay an encoding per commit for nothing. The adapter is the in-memory one (docs/scale-out.md).
    if (events.length > 0 && (nsp.adapter.rooms.get(room)?.size ?? 0) > 0) nsp.to(room).emit("run:events", events);
  });
  app.bus.on("run-changed", (msg) => nsp.to("runs").emit("runs:changed", msg));
  app.bus.on("wait-graph", (graph) => nsp.to(`run:${graph.runId}`).emit("run:waits", graph));
  terminalPushes(app, (room, event, msg) => nsp.to(room).emit(event as "term:output", msg as never));
  // revoked, signed out, password reset or changed, user disabled: every socket holding it closes now
  app.bus.on("credentials-ended", (ended: CredentialsEnded) => {
    const rooms = [
      ...(ended.userId === undefined ? [] : [userRoom(ended.userId)]),
      ...(ended.tokenHashes ?? []).map((hash) => credentialRoom({ kind: "token", hash })),
      ...(ended.sessionHashes ?? []).map((hash) => credentialRoom({ kind: "session", hash })),
    ];
    if (!rooms.length) return;
    nsp.to(rooms).emit("auth:ended", { reason: ended.reason });
    nsp.in(rooms).disconnectSockets(true);
  });
}
