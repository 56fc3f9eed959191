import { readFileSync } from "node:fs";
import { z } from "zod";
import { describeZodError } from "../protocol/errors.js";
import { startServer } from "./app.js";
import { drainOnSignals } from "./ops/drain.js";
import { outliveLostOutput } from "./ops/lost-output.js";

process.env.NEXT_TELEMETRY_DISABLED = "1";
outliveLostOutput();
// files the server creates (database, reports, keys, workspaces' directories) are its own
process.umask(0o077);

const Env = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().optional(),
  DATA_DIR: z.string().min(1).default("./data"),
  SLIPSTREAM_ADMIN_PASSWORD: z.string().min(1).optional(),
  SLIPSTREAM_SECRET_KEY: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** default: pretty on a terminal, JSON otherwise */
  LOG_FORMAT: z.enum(["json", "pretty"]).optional(),
  /** a bearer that may read /metrics (besides admins' API tokens) */
  SLIPSTREAM_METRICS_TOKEN: z.string().min(16, "at least 16 characters").optional(),
  /** memory (MiB) and processes each local instance may use (cgroups; the server must be root) */
  SLIPSTREAM_LOCAL_MEMORY_MB: z.coerce.number().int().min(64).max(1_048_576).default(2048),
  SLIPSTREAM_LOCAL_PIDS: z.coerce.number().int().min(16).max(4_194_304).default(1024),
  /** PEM files: with both set, the port serves HTTPS and WSS only */
  TLS_CERT: z.string().min(1).optional(),
  TLS_KEY: z.string().min(1).optional(),
  /** the URL browsers use, when a proxy in front rewrites the Host header (its origin may open the UI's socket) */
  SLIPSTREAM_PUBLIC_URL: z.url().optional(),
});

const parsed = Env.safeParse(process.env);
if (!parsed.success) {
  console.error(`slipstream: bad environment: ${describeZodError(parsed.error)}`);
  process.exit(2);
}
const env = parsed.data;
if ((env.TLS_CERT === undefined) !== (env.TLS_KEY === undefined)) {
  console.error(
    `slipstream: bad environment: ${env.TLS_CERT ? "TLS_KEY" : "TLS_CERT"}: required with ${env.TLS_CERT ? "TLS_CERT" : "TLS_KEY"}`,
  );
  process.exit(2);
}
function readPem(name: "TLS_CERT" | "TLS_KEY", file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    console.error(
      `slipstream: bad environment: ${name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? err})`,
    );
    process.exit(2);
  }
}
const tls =
  env.TLS_CERT && env.TLS_KEY
    ? { cert: readPem("TLS_CERT", env.TLS_CERT), key: readPem("TLS_KEY", env.TLS_KEY) }
    : undefined;
const dev = process.argv.includes("--dev");
const noUi = process.argv.includes("--no-ui");

try {
  const server = await startServer({
    port: env.PORT,
    host: env.HOST,
    dataDir: env.DATA_DIR,
    adminPassword: env.SLIPSTREAM_ADMIN_PASSWORD,
    secretKey: env.SLIPSTREAM_SECRET_KEY,
    ui: noUi ? false : { dev },
    logLevel: env.LOG_LEVEL,
    logFormat: env.LOG_FORMAT,
    metricsToken: env.SLIPSTREAM_METRICS_TOKEN,
    tls,
    publicUrl: env.SLIPSTREAM_PUBLIC_URL,
    local: {
      limits: { memoryBytes: env.SLIPSTREAM_LOCAL_MEMORY_MB * 2 ** 20, pids: env.SLIPSTREAM_LOCAL_PIDS },
    },
  });
  console.log(`SlipStream is serving on ${server.url} (data in ${server.app.dataDir})`);
  console.log(server.isolation.summary);
  if (server.certSha256) console.log(`TLS certificate SHA-256 (agents pin it): ${server.certSha256}`);
  drainOnSignals(server);
} catch (err) {
  console.error(`slipstream: cannot start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
