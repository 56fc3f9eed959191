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
  return EXIT.USAGE;
}
