/** The CLI's exit codes (the contract). */
export const EXIT = {
  OK: 0,
  /** the followed run ended Aborted or Cancelled */
  RUN_FAILED: 1,
  /** usage error, or input the server rejected (400/404/409/413) */
  USAGE: 2,
  /** server unreachable, or a server error (5xx) */
  UNREACHABLE: 3,
  /** not signed in (401) or not allowed (403) */
  AUTH: 4,
  /** the run's state does not allow it now (409: e.g. scaling a run that is not in Ready, or is aborted) */
  CONFLICT: 5,
  /** a server limit is reached (429: a limit, or too many sign-ins); the message names it */
  LIMIT: 6,
} as const;

/** An expected failure: printed as `slipstream: <message>` (no stack) and turned into the exit code. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
    this.name = "CliError";
  }
}

export const usage = (message: string) => new CliError(EXIT.USAGE, message);

/** Exit code for an HTTP error status. */
export function exitForStatus(status: number): number {
  if (status === 401 || status === 403) return EXIT.AUTH;
  if (status >= 500) return EXIT.UNREACHABLE;
  return EXIT.USAGE;
}

/** Exit code for an error code of a socket ack or connect error (protocol/errors.ts). */
export function exitForCode(code: string): number {
  if (code === "UNAUTHORIZED" || code === "FORBIDDEN") return EXIT.AUTH;
  if (code === "INTERNAL" || code === "UNAVAILABLE") return EXIT.UNREACHABLE;
  if (code === "CONFLICT" || code === "ABORTED") return EXIT.CONFLICT;
  if (code === "LIMIT_EXCEEDED" || code === "TOO_MANY_REQUESTS") return EXIT.LIMIT;
  return EXIT.USAGE;
}
