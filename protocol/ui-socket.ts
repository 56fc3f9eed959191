import { z } from "zod";
import type { AckFn } from "./ack";
import type { RunEvent, RunState } from "./run";

/**
 * The `/ui` socket.io namespace. It only notifies: data is fetched over /api (react-query), and every
 * notification carries the run's sequence number so a browser that reconnects resumes from the last one it saw.
 * Handshake `auth`: { token?, protocolVersion } (or the session cookie).
 */
export const UiAuth = z.object({ token: z.string().max(500).optional(), protocolVersion: z.number().int() });
export const SubscribeRequest = z.strictObject({
  runId: z.string().min(1).max(100),
  since: z.number().int().min(0).default(0),
});
export const UnsubscribeRequest = z.strictObject({ runId: z.string().min(1).max(100) });

export interface UiServerToClient {
  /**
   * every event of a subscribed run, in seq order, backlog first: a backlog page (up to 2000) or one commit's
   * events per message, so a late browser catching up on thousands of events gets a few frames, not thousands
   */
  "run:events": (events: RunEvent[]) => void;
  /** a run anywhere changed state (for run lists) */
  "runs:changed": (msg: { runId: string; state: RunState; abort: string | null; seq: number }) => void;
  /** who is watching a subscribed run */
  "run:watchers": (msg: { runId: string; users: string[] }) => void;
  /**
   * the connection's credential ended (token revoked or expired, signed out, password reset or changed, user
   * disabled): `reason` is for the person; the server disconnects right after, and reconnecting needs a new sign-in
   */
  "auth:ended": (msg: { reason: string }) => void;
}

export interface UiClientToServer {
  /**
   * Replays one page of the events after `since` (as `run:events`, before the ack). `complete` false: there is
   * more; ask again from the last seq received. `complete` true: that was the last page and live events follow.
   */
  "run:subscribe": (
    req: z.input<typeof SubscribeRequest>,
    ack: AckFn<{ lastSeq: number; backlog: number; complete: boolean }>,
  ) => void;
  "run:unsubscribe": (req: z.input<typeof UnsubscribeRequest>, ack: AckFn<null>) => void;
  "runs:subscribe": (req: Record<string, never>, ack: AckFn<null>) => void;
}
