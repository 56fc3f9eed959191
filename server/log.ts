import pino, { type DestinationStream, type Logger } from "pino";
import pretty from "pino-pretty";

const CREDENTIAL_FIELDS = ["password", "privateKey", "token", "authorization", "cookie"];

/**
 * Credential-looking fields pino replaces with "[Redacted]" wherever our log calls put them: at the top level
 * (`log.info({ token })`), one level down (`{ host: { password } }`, `{ headers: { cookie } }`) and two
 * (`{ req: { headers: { authorization } } }`, `{ cloud: { hosts: [{ password }] } }`, as `*` matches array items).
 * The values of sealed secrets are also redacted by text (Secrets.redact) where they reach logs and reports.
 */
const LOG_REDACT_PATHS = CREDENTIAL_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`, `*.*.*.${f}`]);

/** How log lines are written: JSON (for collectors) or pretty (for a person at a terminal). */
export type LogFormat = "json" | "pretty";

/** Pretty on a terminal, JSON otherwise (a pipe, a file, a container's log driver). */
export const defaultLogFormat = (): LogFormat => (process.stdout.isTTY ? "pretty" : "json");

/**
 * The server's logger: pino with credential fields redacted (before formatting, so pretty lines are redacted
 * too); `destination` defaults to stdout, `format` to what suits it. The pretty stream is synchronous and in this
 * thread, so the lines of a stop are written before the process exits.
 */
export function createLogger(
  opts: { level?: string; destination?: DestinationStream; format?: LogFormat } = {},
): Logger {
  const options = { level: opts.level ?? "info", redact: { paths: LOG_REDACT_PATHS } };
  const format = opts.format ?? (opts.destination ? "json" : defaultLogFormat());
  if (format === "pretty") {
    const colorize = !opts.destination && process.stdout.isTTY === true;
    return pino(options, pretty({ sync: true, colorize, destination: opts.destination ?? 1 }));
  }
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
