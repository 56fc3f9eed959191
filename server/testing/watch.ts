import { io as ioClient, type Socket } from "socket.io-client";
import type { RunEvent } from "../../protocol/run.js";
import type { UiClientToServer, UiServerToClient } from "../../protocol/ui-socket.js";
import { PROTOCOL_VERSION } from "../../protocol/version.js";

/**
 * Follows a run like a browser does: subscribes on /ui, receives the backlog then live events, and resubscribes
 * from the last seq after a reconnect. Tests wait on pushed events, never by polling.
 */
export class RunWatcher {
  readonly events: RunEvent[] = [];
  private socket: Socket<UiServerToClient, UiClientToServer>;
  private waiters: { pred: (e: RunEvent, all: RunEvent[]) => boolean; resolve: (e: RunEvent) => void }[] = [];

  constructor(
    url: string,
    token: string,
    readonly runId: string,
  ) {
    this.socket = ioClient(`${url}/ui`, {
      auth: { token, protocolVersion: PROTOCOL_VERSION },
      transports: ["websocket"],
      reconnectionDelay: 100,
      reconnectionDelayMax: 500,
    });
    // the backlog comes a page at a time: ask on from the last seq received until the server says it is all
    const subscribe = () =>
      this.socket.emit("run:subscribe", { runId, since: this.lastSeq }, (ack) => {
        if (ack.ok && !ack.data.complete) subscribe();
      });
    this.socket.on("connect", subscribe);
    this.socket.on("run:events", (events) => {
      for (const e of events) {
        if (e.runId !== runId || e.seq <= this.lastSeq) continue;
        this.events.push(e);
        this.waiters = this.waiters.filter((w) => {
          if (!w.pred(e, this.events)) return true;
          w.resolve(e);
          return false;
        });
      }
    });
  }

  /** Each runtime parameter's latest value among the events received so far. */
  params(): Map<string, string | null> {
    return new Map(this.events.flatMap((e) => (e.body.type === "param" ? [[e.body.key, e.body.value] as const] : [])));
  }

  get lastSeq(): number {
    return this.events.at(-1)?.seq ?? 0;
  }

  until(pred: (e: RunEvent, all: RunEvent[]) => boolean): Promise<RunEvent> {
    const found = this.events.find((e) => pred(e, this.events));
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  state(to: string): Promise<RunEvent> {
    return this.until((e) => e.body.type === "state" && e.body.to === to);
  }

  /** The run's end: one of the terminal states, or Ready once it was decided to stay there. */
  ended(): Promise<RunEvent> {
    return this.until((e) => e.body.type === "state" && ["Done", "Aborted", "Cancelled"].includes(e.body.to));
  }

  logText(instance?: string): string {
    return this.events
      .flatMap((e) => (e.body.type === "log" && (!instance || e.body.instance === instance) ? [e.body.data] : []))
      .join("");
  }

  close(): void {
    this.socket.close();
  }
}

/**
 * For `until`: `count` instances of the run have completed their recipes in Ready (a run kept for debugging, its
 * machines done), told by the event that completes the last of them.
 */
export const completedInReady =
  (count: number) =>
  (e: RunEvent, all: RunEvent[]): boolean => {
    const completed = (x: RunEvent) =>
      x.body.type === "instance" && x.body.status === "completed" && x.body.state === "Ready";
    return completed(e) && all.filter(completed).length === count;
  };
