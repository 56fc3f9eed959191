import pino, { type DestinationStream, type Logger } from "pino";

const CREDENTIAL_FIELDS = ["password", "privateKey", "token", "authorization", "cookie"];

/**
 * Credential-looking fields pino replaces with "[Redacted]" wherever our log calls put them: at the top level
 * (`log.info({ token })`), one level down (`{ host: { password } }`, `{ headers: { cookie } }`) and two
 * (`{ req: { headers: { authorization } } }`, `{ cloud: { hosts: [{ password }] } }`, as `*` matches array items).
 * The values of sealed secrets are also redacted by text (Secrets.redact) where they reach logs and reports.
 */
const LOG_REDACT_PATHS = CREDENTIAL_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`, `*.*.*.${f}`]);

/** The server's logger: pino with credential fields redacted; `destination` defaults to stdout. */
export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  const options = { level: opts.level ?? "info", redact: { paths: LOG_REDACT_PATHS } };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
