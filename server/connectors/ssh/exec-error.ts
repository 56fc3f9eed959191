/** The one error the SSH connector throws: what failed where, with the remote command's outcome when there was one. */

interface ExecErrorDetails {
  /** `address` or `address:port` (port 22 is left out) */
  host?: string;
  /** the remote command, when a command failed */
  command?: string;
  exitCode?: number | null;
  stderr?: string;
}

export class ExecError extends Error {
  readonly host?: string;
  readonly command?: string;
  readonly exitCode?: number | null;
  readonly stderr?: string;

  constructor(message: string, details: ExecErrorDetails = {}) {
    super(message);
    this.name = "ExecError";
    this.host = details.host;
    this.command = details.command;
    this.exitCode = details.exitCode;
    this.stderr = details.stderr;
  }

  /** The same error with `redact` applied to every text it carries (credentials must never reach an abort message). */
  redacted(redact: (s: string) => string): ExecError {
    return new ExecError(redact(this.message), {
      host: this.host,
      command: this.command === undefined ? undefined : redact(this.command),
      exitCode: this.exitCode,
      stderr: this.stderr === undefined ? undefined : redact(this.stderr),
    });
  }
}

/** Any thrown value as a redacted ExecError (its message is the original message, redacted). */
export function redactedError(err: unknown, redact: (s: string) => string): ExecError {
  if (err instanceof ExecError) return err.redacted(redact);
  return new ExecError(redact(err instanceof Error ? err.message : String(err)));
}

export function hostLabel(h: { address: string; port: number }): string {
  return h.port === 22 ? h.address : `${h.address}:${h.port}`;
}

/** `host <label>: <cause>`. */
export function hostError(
  h: { address: string; port: number },
  cause: string,
  details: Omit<ExecErrorDetails, "host"> = {},
): ExecError {
  const host = hostLabel(h);
  return new ExecError(`host ${host}: ${cause}`, { ...details, host });
}
