import { EventEmitter } from "node:events";
import type { RunEvent, RunState } from "../protocol/run.js";
import type { WaitGraph } from "../protocol/wait-graph.js";

/** In-process fan-out of committed changes to the socket layers. Only committed data goes through here. */
interface BusEvents {
  /** events of one run, in seq order, already persisted */
  events: [runId: string, events: RunEvent[]];
  /** something agents must learn (state, abort, recovery mode, liveness, scaling) */
  "agent-state": [runId: string];
  "run-changed": [msg: { runId: string; state: RunState; abort: string | null; seq: number }];
  /** an instance was removed from its run: close its agent connection once its report is in */
  "instance-removed": [runId: string, instance: string];
  /** credentials that stopped working (revoked, signed out, password reset, user disabled): sockets using them close */
  "credentials-ended": [ended: CredentialsEnded];
  /** a blocked ss-get of the run started or ended (waits are not events: the wait-for graph is taken again) */
  waits: [runId: string];
  /** a run's wait-for graph changed: pushed to its watchers */
  "wait-graph": [graph: WaitGraph];
}

/**
 * Which credentials ended: every one of a user, and/or single tokens and sessions by the SHA-256 of their secret.
 * `reason` is said to the client as is.
 */
export interface CredentialsEnded {
  userId?: number;
  tokenHashes?: string[];
  sessionHashes?: string[];
  reason: string;
}

export class Bus extends EventEmitter<BusEvents> {
  constructor() {
    super();
    // one listener per socket namespace and per subscriber of tests; not a leak
    this.setMaxListeners(1000);
  }
}
