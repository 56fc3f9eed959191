import { io, type Socket } from "socket.io-client";
import type { Ack } from "../protocol/ack.js";
import type { RunEvent } from "../protocol/run.js";
import type { UiClientToServer, UiServerToClient } from "../protocol/ui-socket.js";
import { PROTOCOL_VERSION } from "../protocol/version.js";
import { CliError, EXIT, exitForCode } from "./errors.js";

interface FollowOptions {
  url: string;
  token: string | undefined;
  runId: string;
  /** the last seq already seen: events after it are delivered */
  since: number;
  /** called once per event, in seq order, never twice; return "stop" to end following */
  onEvent: (event: RunEvent) => "stop" | undefined;
  /** the connection dropped (it is re-established on its own) */
  onDisconnect?: (reason: string) => void;
  /** the connection is back and the run re-subscribed from the last seq seen */
  onResubscribed?: (since: number) => void;
}

type UiSocket = Socket<UiServerToClient, UiClientToServer>;

/**
 * Follows one run live over the `/ui` socket.io namespace: `run:subscribe` replays what came after `since`,
 * then the server pushes every new event. After a disconnect it re-subscribes from the last seq it saw, so
 * nothing is lost or shown twice. No polling: the transport is a WebSocket only.
 */
export class RunFollower {
  readonly socket: UiSocket;
  lastSeq: number;
  readonly done: Promise<void>;
  private connectedOnce = false;

  constructor(opts: FollowOptions) {
    this.lastSeq = opts.since;
    this.socket = io(`${opts.url}/ui`, {
      auth: { token: opts.token, protocolVersion: PROTOCOL_VERSION },
      transports: ["websocket"],
      reconnectionDelay: 200,
      reconnectionDelayMax: 2000,
    });
    this.done = new Promise<void>((resolve, reject) => {
      const fail = (err: CliError) => {
        this.close();
        reject(err);
      };
      this.socket.on("run:events", (events) => {
        for (const event of events) {
          if (event.runId !== opts.runId || event.seq <= this.lastSeq) continue;
          this.lastSeq = event.seq;
          let verdict: "stop" | undefined;
          try {
            verdict = opts.onEvent(event);
          } catch (err) {
            this.close();
            reject(err);
            return;
          }
          if (verdict === "stop") {
            this.close();
            resolve();
            return;
          }
        }
      });
      this.socket.on("connect", () => {
        const since = this.lastSeq;
        const again = this.connectedOnce;
        this.connectedOnce = true;
        // the backlog comes a page at a time: ask on from the last seq received until the server says it is all
        const subscribe = (from: number) =>
          this.socket.emit("run:subscribe", { runId: opts.runId, since: from }, (ack: Ack<{ complete: boolean }>) => {
            if (!ack.ok) return fail(new CliError(exitForCode(ack.error.code), ack.error.message));
            if (!ack.data.complete) return subscribe(this.lastSeq);
            if (again) opts.onResubscribed?.(since);
          });
        subscribe(since);
      });
      // the token was revoked, expired or its user disabled: the server closes the socket for good right after
      this.socket.on("auth:ended", ({ reason }) =>
        fail(new CliError(exitForCode("UNAUTHORIZED"), `signed out: ${reason}`)),
      );
      this.socket.on("disconnect", (reason) => {
        if (reason !== "io client disconnect") opts.onDisconnect?.(reason);
      });
      this.socket.on("connect_error", (err) => {
        // a refusal by the server (bad token, protocol) is final; a network error is retried by socket.io
        if (this.socket.active) return;
        const code = /^([A-Z_]+):/.exec(err.message)?.[1];
        fail(
          new CliError(
            code ? exitForCode(code) : EXIT.UNREACHABLE,
            code === "UNAUTHORIZED"
              ? "not signed in: run slipstream login, or set SLIPSTREAM_TOKEN"
              : `live updates: ${err.message}`,
          ),
        );
      });
    });
  }

  close(): void {
    this.socket.removeAllListeners();
    this.socket.close();
  }
}
