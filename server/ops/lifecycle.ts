import { SlipError } from "../../protocol/errors.js";

/**
 * Where the server is in its life: not ready until the database is migrated and interrupted runs are adopted
 * (boot reconcile), then ready, then draining once a stop was asked (SIGTERM). Load balancers read it on
 * /api/ready; a draining server starts no new run.
 */
export class Lifecycle {
  private phase: "starting" | "ready" | "draining" = "starting";

  get ready(): boolean {
    return this.phase === "ready";
  }

  get draining(): boolean {
    return this.phase === "draining";
  }

  markReady(): void {
    if (this.phase === "starting") this.phase = "ready";
  }

  startDraining(): void {
    this.phase = "draining";
  }

  /** Why the server takes no request now, or null: what /api/ready answers when it is not 200. */
  notReady(): SlipError | null {
    if (this.phase === "ready") return null;
    return new SlipError(
      "UNAVAILABLE",
      this.phase === "starting"
        ? "the server is starting: interrupted runs are being adopted; retry shortly"
        : "the server is shutting down: retry on its restart",
    );
  }

  /** Refuses a new run while draining: it could not be started before the process exits. */
  refuseNewRun(): void {
    if (this.phase === "draining") {
      throw new SlipError("UNAVAILABLE", "the server is shutting down and starts no new run: retry on its restart");
    }
  }
}
