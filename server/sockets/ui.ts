import type { Namespace, Server, Socket } from "socket.io";
import { z } from "zod";
import {
  describeZodError,
  PROTOCOL_VERSION,
  SlipError,
  SubscribeRequest,
  UiAuth,
  type UiClientToServer,
  type UiServerToClient,
  UnsubscribeRequest,
} from "../../protocol/index.js";
import { readCookie, SESSION_COOKIE } from "../auth/cookies.js";
import type { AppContext } from "../context.js";
import { readEvents } from "../runs/event-log.js";
import { acked } from "./ack.js";

interface UiData {
  username: string;
  /** the credential it connected with, re-checked on every request so a revoked token or ended session stops at once */
  token?: string;
  cookie?: string;
}
type UiSocket = Socket<UiClientToServer, UiServerToClient, Record<string, never>, UiData>;

const BACKLOG_PAGE = 2000;

/**
 * The `/ui` namespace. Subscribing replays the run's events after `since` and then streams live ones; both
 * happen in one synchronous step, so nothing committed in between can be missed or sent twice.
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
    const username = whoIs(token, cookie);
    if (!username) return next(new Error("UNAUTHORIZED: sign in first"));
    socket.data = { username, token, cookie };
    next();
  });

  const whoIs = (token: string | undefined, cookie: string | undefined): string | null =>
    token ? (app.auth.authenticate(token)?.username ?? null) : (app.auth.session(cookie)?.user.username ?? null);
  /** Re-checks the socket's credential; a revoked one ends the connection. */
  const stillSignedIn = (socket: UiSocket) => {
    if (whoIs(socket.data.token, socket.data.cookie) === null) {
      setTimeout(() => socket.disconnect(true), 0);
      throw new SlipError("UNAUTHORIZED", "signed out or token revoked; sign in again");
    }
  };

  const publishWatchers = (runId: string) => {
    const users = [...(watchers.get(runId)?.keys() ?? [])].sort();
    nsp.to(`run:${runId}`).emit("run:watchers", { runId, users });
  };
  const watch = (runId: string, username: string, delta: number) => {
    const m = watchers.get(runId) ?? new Map<string, number>();
    const n = (m.get(username) ?? 0) + delta;
    if (n > 0) m.set(username, n);
    else m.delete(username);
    if (m.size) watchers.set(runId, m);
    else watchers.delete(runId);
    publishWatchers(runId);
  };

  nsp.on("connection", (socket: UiSocket) => {
    const subscribed = new Set<string>();
    socket.on(
      "run:subscribe",
      acked(app.log, SubscribeRequest, (req) => {
        stillSignedIn(socket);
        const rt = app.runs.get(req.runId);
        let since = req.since;
        let backlog = 0;
        for (;;) {
          const page = readEvents(app.db, rt.id, since, BACKLOG_PAGE);
          if (page.length > 0) socket.emit("run:events", page);
          backlog += page.length;
          if (page.length < BACKLOG_PAGE) break;
          since = page[page.length - 1].seq;
        }
        socket.join(`run:${rt.id}`);
        if (!subscribed.has(rt.id)) {
          subscribed.add(rt.id);
          watch(rt.id, socket.data.username, 1);
        }
        return { lastSeq: rt.lastSeq, backlog };
      }),
    );
    socket.on(
      "run:unsubscribe",
      acked(app.log, UnsubscribeRequest, (req) => {
        socket.leave(`run:${req.runId}`);
        if (subscribed.delete(req.runId)) watch(req.runId, socket.data.username, -1);
        return null;
      }),
    );
    socket.on(
      "runs:subscribe",
      acked(app.log, z.object({}).passthrough(), () => {
        stillSignedIn(socket);
        socket.join("runs");
        return null;
      }),
    );
    socket.on("disconnect", () => {
      for (const runId of subscribed) watch(runId, socket.data.username, -1);
    });
  });

  app.bus.on("events", (runId, events) => {
    if (events.length > 0) nsp.to(`run:${runId}`).emit("run:events", events);
  });
  app.bus.on("run-changed", (msg) => nsp.to("runs").emit("runs:changed", msg));
}
