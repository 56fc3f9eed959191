import { z } from "zod";
import { RunEvent, RunState } from "./run";
import type { PushEvents, RequestDef, RequestEvents } from "./socket-catalog";
import { TERMINAL_UI_PUSHES, TERMINAL_UI_REQUESTS } from "./terminal";
import { WaitGraph } from "./wait-graph";

/**
 * The `/ui` socket.io namespace. A subscribed run's events are pushed in full (`run:events`, bodies and log data
 * included), each with the run's sequence number, so a browser folds them into what it fetched over /api
 * (react-query) and, when it reconnects, resumes from the last one it saw. The other pushes only notify.
 * Handshake `auth`: { token?, protocolVersion } (or the session cookie).
 */
export const UiAuth = z.object({ token: z.string().max(500).optional(), protocolVersion: z.number().int() });
const SubscribeRequest = z.strictObject({
  runId: z.string().min(1).max(100),
  since: z.number().int().min(0).default(0),
});
const UnsubscribeRequest = z.strictObject({ runId: z.string().min(1).max(100) });

const RunsChanged = z.object({
  runId: z.string(),
  state: RunState,
  abort: z.string().nullable(),
  seq: z.number().int(),
});

/** What the server pushes on /ui. */
const UI_PUSHES = {
  /**
   * every event of a subscribed run, in seq order, backlog first: a backlog page (up to 2000) or one commit's
   * events per message, so a late browser catching up on thousands of events gets a few frames, not thousands
   */
  "run:events": z.array(RunEvent),
  /** a run anywhere changed state (for run lists) */
  "runs:changed": RunsChanged,
  /** a subscribed run's wait-for graph, whenever it changed (protocol/wait-graph.ts); GET /api/runs/:id/waits first */
  "run:waits": WaitGraph,
  /** who is watching a subscribed run */
  "run:watchers": z.object({ runId: z.string(), users: z.array(z.string()) }),
  /**
   * the connection's credential ended (token revoked or expired, signed out, password reset or changed, user
   * disabled): `reason` is for the person; the server disconnects right after, and reconnecting needs a new sign-in
   */
  "auth:ended": z.object({ reason: z.string() }),
  ...TERMINAL_UI_PUSHES,
} satisfies Record<string, z.ZodType>;

/** What a browser asks on /ui. */
export const UI_REQUESTS = {
  "run:subscribe": {
    summary:
      "Replays one page of the events after `since` (as `run:events`, before the ack). `complete` false: there is " +
      "more; ask again from the last seq received. `complete` true: that was the last page and live events follow.",
    request: SubscribeRequest,
    response: z.object({ lastSeq: z.number().int(), backlog: z.number().int(), complete: z.boolean() }),
  },
  "run:unsubscribe": { summary: "Stops a run's events", request: UnsubscribeRequest, response: z.null() },
  "runs:subscribe": {
    summary: "Follows every run's state changes (`runs:changed`), for run lists",
    request: z.object({}),
    response: z.null(),
  },
  ...TERMINAL_UI_REQUESTS,
} satisfies Record<string, RequestDef>;

export type UiServerToClient = PushEvents<typeof UI_PUSHES>;
export type UiClientToServer = RequestEvents<typeof UI_REQUESTS>;
