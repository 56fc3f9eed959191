import { X509Certificate } from "node:crypto";
import fs from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type { AddressInfo, Server as NetServer } from "node:net";
import path from "node:path";
import type { Logger } from "pino";
import { Server as SocketServer } from "socket.io";
import { SlipError } from "../protocol/errors.js";
import { AuthService } from "./auth/service.js";
import { hashToken } from "./auth/tokens.js";
import { Bus } from "./bus.js";
import { CloudAccess } from "./clouds/access.js";
import { closeDockerClouds, resumeDockerClouds } from "./clouds/docker-cloud.js";
import { loadSshConnectors } from "./clouds/service.js";
import { agentBundle } from "./connectors/agent-bundle.js";
import { createLocalConnector, type LocalConnectorOptions } from "./connectors/local.js";
import type { Isolation } from "./connectors/sandbox/isolation.js";
import type { Connector } from "./connectors/types.js";
import type { AppContext } from "./context.js";
import { startCheckpointer } from "./db/checkpointer.js";
import { openDatabase } from "./db/open.js";
import { prepared } from "./db/prepared.js";
import { createApi } from "./http/api.js";
import { sendError, sendJson } from "./http/respond.js";
import { originAllowed, setSecurityHeaders } from "./http/web-security.js";
import { createLogger, type LogFormat } from "./log.js";
import { ModuleService } from "./modules/service.js";
import { startWebhooks, stopWebhooks } from "./notify/index.js";
import { Lifecycle } from "./ops/lifecycle.js";
import { createServerMetrics } from "./ops/server-metrics.js";
import { ReportFiles } from "./reports/store.js";
import { ROOT } from "./root.js";
import { reconcileAtBoot, recordOnActiveRuns } from "./runs/boot-reconcile.js";
import { Deadlines } from "./runs/deadlines.js";
import { RunEffects } from "./runs/effects.js";
import { startKeptExpiry, stopKeptExpiry } from "./runs/kept-expiry.js";
import { startRunLeases, stopRunLeases } from "./runs/leases.js";
import { Liveness } from "./runs/liveness.js";
import { RunService } from "./runs/service.js";
import { WaitMonitor } from "./runs/wait-monitor.js";
import { Secrets } from "./secrets.js";
import { seedExamples } from "./seed.js";
import { Settings } from "./settings.js";
import { attachAgentNamespace } from "./sockets/agent.js";
import { attachUiNamespace } from "./sockets/ui.js";

export { ROOT };

export interface ServerOptions {
  port: number;
  host?: string;
  dataDir: string;
  adminPassword?: string;
  /** serve the Next.js UI (off in API tests) */
  ui?: false | { dev: boolean };
  logLevel?: string;
  /** JSON or pretty log lines (default: pretty on a terminal) */
  logFormat?: LogFormat;
  examplesDir?: string;
  log?: Logger;
  /** base64/hex of 32 bytes; else generated into DATA_DIR/secret.key */
  secretKey?: string;
  /** seconds between SIGTERM and SIGKILL of an aborted recipe (agent default 10) */
  killGraceSeconds?: number;
  /** extra connectors (tests, ssh) by cloud name */
  connectors?: Map<string, Connector>;
  /** options of the local cloud (tests: no sandbox, another bubblewrap, limits) */
  local?: Partial<Pick<LocalConnectorOptions, "sandbox" | "bwrap" | "limits" | "network" | "agents">>;
  /** serve HTTPS and WSS on the port (PEM: the certificate, optionally followed by its chain, and its key) */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** the URL browsers use when it is not the request's Host (a proxy rewriting it): its origin may open /ui */
  publicUrl?: string;
  /** a bearer that may read /metrics (SLIPSTREAM_METRICS_TOKEN); admins' API tokens may too */
  metricsToken?: string;
}

export interface RunningServer {
  url: string;
  port: number;
  /** with TLS: the SHA-256 fingerprint of the served certificate (`AB:CD:…`), which agents pin */
  certSha256?: string;
  app: AppContext;
  /** what the local cloud can do on this machine (npm start prints its summary) */
  isolation: Isolation;
  /** stops listening; `stopInstances` also stops every machine of unfinished runs (tests) */
  close(opts?: { stopInstances?: boolean }): Promise<void>;
}

async function ensureWritable(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true });
    const probe = path.join(dir, `.write-test-${process.pid}`);
    await fs.writeFile(probe, "");
    await fs.rm(probe);
  } catch (err) {
    throw new Error(
      `data directory ${dir} is not writable (${(err as NodeJS.ErrnoException).code ?? err}); set DATA_DIR`,
    );
  }
}

function listen(server: NetServer, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      if (err.code === "EADDRINUSE")
        reject(new Error(`port ${port} is already in use; stop the other server or set PORT`));
      else if (err.code === "EACCES") reject(new Error(`no permission to listen on port ${port}; set PORT`));
      else reject(err);
    };
    const onListening = () => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });
}

/**
 * Refuses a taken port before anything is written: otherwise a first start would create the admin account and
 * print its password, then fail, and the next start would not print it again.
 */
async function ensurePortFree(port: number, host: string | undefined): Promise<void> {
  if (port === 0) return;
  const probe = http.createServer();
  await listen(probe, port, host);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

/** The certificate's fingerprint, after checking that the pair is usable (before anything is written). */
function checkTls(tls: NonNullable<ServerOptions["tls"]>): string {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(tls.cert);
  } catch (err) {
    throw new Error(`TLS_CERT: not a PEM certificate (${(err as Error).message})`);
  }
  try {
    https.createServer({ cert: tls.cert, key: tls.key }).close();
  } catch (err) {
    throw new Error(`TLS_KEY: not the key of TLS_CERT's certificate (${(err as Error).message})`);
  }
  return cert.fingerprint256;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const log = opts.log ?? createLogger({ level: opts.logLevel, format: opts.logFormat });
  const dataDir = path.resolve(opts.dataDir);
  const certSha256 = opts.tls ? checkTls(opts.tls) : undefined;
  await ensurePortFree(opts.port, opts.host);
  await ensureWritable(dataDir);
  // the server's files are its own: other users of the machine (and local instances) must not read them
  await fs.chmod(dataDir, 0o700);
  const dbFile = path.join(dataDir, "slipstream.db");
  const db = openDatabase(dbFile);
  const checkpointer = startCheckpointer(db.$client, dbFile, (p) => {
    if (p.error) log.warn({ err: p.error }, "WAL checkpoint failed (tried again shortly)");
  });
  const bus = new Bus();
  const auth = new AuthService(db, bus);
  const modules = new ModuleService(db);
  const runs = new RunService(db, bus, log);
  const reports = new ReportFiles(path.join(dataDir, "reports"));
  const secrets = await Secrets.load(dataDir, opts.secretKey);

  const admin = await auth.ensureAdmin(opts.adminPassword);
  if (admin.generated) {
    // printed once, on the start that created the account
    console.log(`\n  SlipStream admin account created.\n  username: admin\n  password: ${admin.generated}\n`);
  }
  const adminRow = db.$client.prepare("select id, username, role from users where username = 'admin'").get() as {
    id: number;
    username: string;
    role: "admin";
  };
  const seeded = await seedExamples(modules, adminRow, opts.examplesDir ?? path.join(ROOT, "examples"));
  if (seeded) log.info({ modules: seeded }, "seeded the example modules");

  const bundle = await agentBundle(path.join(dataDir, "agent"));
  const local = createLocalConnector({
    dataDir,
    bundleDir: path.dirname(bundle.agent),
    killGraceSeconds: opts.killGraceSeconds,
    hide: [ROOT],
    listensEverywhere: !opts.host || opts.host === "0.0.0.0" || opts.host === "::",
    ...opts.local,
  });
  const isolation = await local.isolation();
  log.info({ sandboxed: isolation.sandboxed }, isolation.summary);
  const connectors = new Map<string, Connector>([["local", local], ...(opts.connectors ?? new Map())]);

  let url = "";
  const httpServer = opts.tls ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key }) : http.createServer();
  const io = new SocketServer(httpServer, {
    serveClient: false,
    maxHttpBufferSize: 1e6,
    // a dead or frozen agent's connection is closed within pingInterval + pingTimeout (8 s) of its last answer, which
    // is how an unresponsive agent is seen (run-rules R19); clients take both values from the handshake
    pingInterval: 4_000,
    pingTimeout: 4_000,
    // /ui authenticates by cookie: a page of another origin (another port of this host is the same site) must
    // not open it with the visitor's session
    allowRequest: (req, callback) => {
      if (originAllowed(req, opts.publicUrl)) callback(null, true);
      else callback(`origin ${String(req.headers.origin).slice(0, 200)} may not connect`, false);
    },
  });
  const deadlines = new Deadlines(runs, log);
  // the agent namespace, created below, answers who is connected
  let agentsConnected: (runId: string, instance: string) => boolean = () => false;
  const liveness = new Liveness(runs, log, (runId, instance) => agentsConnected(runId, instance));
  const waitMonitor = new WaitMonitor(runs, bus, log);

  const app: AppContext = {
    db,
    log,
    bus,
    auth,
    modules,
    runs,
    reports,
    deadlines,
    liveness,
    connectors,
    retiredConnectors: new Map(),
    dataDir,
    secrets,
    settings: new Settings(db),
    effects: undefined as never,
    access: new CloudAccess(db, (cloud) => connectors.get(cloud)?.kind ?? null),
    cloudRefusal: (user, cloud) =>
      // an unsandboxed local instance runs recipes as the server's own user: only admins may do that
      cloud === "local" && !isolation.sandboxed && user.role !== "admin"
        ? `the local cloud is open to admins only on this server: its machines are not sandboxed (${isolation.unavailable})`
        : app.access.refusal(user, cloud),
    agentByToken: (token) => {
      if (!token) return null;
      const row = prepared(db.$client, "select run_id, name from instances where token_hash = ?").get(
        hashToken(token),
      ) as { run_id: string; name: string } | undefined;
      if (!row) return null;
      const rt = runs.get(row.run_id);
      return rt.terminal ? null : { rt, instance: row.name };
    },
    ops: { lifecycle: new Lifecycle(), metrics: undefined as never, metricsToken: opts.metricsToken },
  };
  // clouds defined by admins (ssh pools), stored with sealed credentials
  for (const [name, c] of loadSshConnectors(app)) if (!connectors.has(name)) connectors.set(name, c);
  const agents = attachAgentNamespace(io, app);
  agentsConnected = agents.isConnected;
  runs.agentConnected = agents.isConnected;
  attachUiNamespace(io, app);
  app.ops.metrics = createServerMetrics(app, () => ({
    "/agent": io.of("/agent").sockets.size,
    "/ui": io.of("/ui").sockets.size,
  }));
  app.effects = new RunEffects({
    svc: runs,
    connectors,
    retiredConnectors: app.retiredConnectors,
    reports,
    serviceUrl: () => url,
    serverCertSha256: certSha256,
    redact: (text) => secrets.redact(text),
    log,
    isConnected: agents.isConnected,
    machineStarted: (rt, name) => liveness.machineStarted(rt, name),
  });
  runs.effects = (rt, actions, tx) => app.effects.run(rt, actions, tx);
  runs.limits = () => app.settings.limits;

  // webhooks of runs that end from now on, and deliveries a stop interrupted (links use the URL once listening)
  startWebhooks(app, () => opts.publicUrl ?? url);
  const api = createApi(app);
  let nextHandler: ((req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>) | null = null;
  if (opts.ui) {
    const { default: next } = await import("next");
    const nextApp = next({ dev: opts.ui.dev, dir: ROOT, quiet: true });
    await nextApp.prepare();
    nextHandler = nextApp.getRequestHandler();
  }

  const dev = opts.ui ? opts.ui.dev : false;
  // a request Node's parser refuses never reaches "request": answer it in JSON like every other refusal
  httpServer.on("clientError", (err: NodeJS.ErrnoException, socket: import("node:stream").Duplex) => {
    if (err.code === "ECONNRESET" || !socket.writable) return socket.destroy();
    const tooLarge = err.code === "HPE_HEADER_OVERFLOW";
    const body = JSON.stringify({
      error: tooLarge
        ? { code: "PAYLOAD_TOO_LARGE", message: "headers: larger than the server accepts (16 KiB)" }
        : { code: "BAD_REQUEST", message: `request: not a valid HTTP request (${err.code ?? "parse error"})` },
    });
    socket.end(
      `HTTP/1.1 ${tooLarge ? "431 Request Header Fields Too Large" : "400 Bad Request"}\r\n` +
        `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  httpServer.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    try {
      if (!(req.url ?? "").startsWith("/socket.io/")) setSecurityHeaders(req, res, { tls: !!opts.tls, dev });
      handleRequest(req, res);
    } catch (err) {
      // nothing a client sends may take the process down: answer what can still be answered
      if (!res.headersSent) sendError(res, err);
      else res.destroy();
      if (!(err instanceof SlipError)) log.error({ err, url: req.url }, "request failed");
    }
  });
  const handleRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    // engine.io answers every request whose raw target starts with its path, whatever follows (`/socket.io/../x`)
    if ((req.url ?? "").startsWith("/socket.io/")) return;
    let u: URL;
    try {
      u = new URL(req.url ?? "/", "http://localhost");
    } catch {
      throw new SlipError("BAD_REQUEST", "the request target is not a valid URL path");
    }
    if (!(req.url ?? "/").startsWith("/")) throw new SlipError("BAD_REQUEST", "the request target must be a path");
    // /metrics is where Prometheus looks by default; it is a catalog route like those under /api
    if (u.pathname === "/api" || u.pathname.startsWith("/api/") || u.pathname === "/metrics") {
      const match = api.match(req.method ?? "GET", u.pathname);
      if (match === null)
        return sendJson(res, 404, { error: { code: "NOT_FOUND", message: `no route ${u.pathname}` } });
      if (match === "method") {
        return sendJson(res, 405, {
          error: { code: "BAD_REQUEST", message: `${req.method} is not allowed on ${u.pathname}` },
        });
      }
      Promise.resolve()
        .then(() => match.handler({ req, res, query: u.searchParams }))
        .catch((err) => {
          const e = sendError(res, err);
          if (e.code === "INTERNAL") log.error({ err, url: req.url }, "request failed");
        });
      return;
    }
    if (nextHandler) {
      nextHandler(req, res).catch((err) => sendError(res, err));
      return;
    }
    sendError(res, new SlipError("NOT_FOUND", "the UI is not served by this process"));
  };

  await listen(httpServer, opts.port, opts.host);
  const port = (httpServer.address() as AddressInfo).port;
  url = `${opts.tls ? "https" : "http"}://${opts.host && opts.host !== "0.0.0.0" && opts.host !== "::" ? opts.host : "127.0.0.1"}:${port}`;
  await local.serve(url, (socket) => httpServer.emit("connection", socket));

  reconcileAtBoot(app);
  void resumeDockerClouds(app, url);
  app.ops.lifecycle.markReady();
  // kept runs' expiries, those stored before a restart included
  startKeptExpiry(app);
  // client leases (slipstream run --wait), those stored before a restart included
  startRunLeases(app);

  return {
    url,
    port,
    ...(certSha256 ? { certSha256 } : {}),
    app,
    isolation,
    async close(closeOpts) {
      app.ops.lifecycle.startDraining();
      deadlines.stop();
      stopKeptExpiry(app);
      stopRunLeases(app);
      liveness.stop();
      waitMonitor.stop();
      stopWebhooks(app);
      recordOnActiveRuns(app, { type: "server", status: "stopping" });
      if (closeOpts?.stopInstances) {
        for (const id of runs.activeRunIds()) {
          const rt = runs.get(id);
          await Promise.all([...rt.instances.keys()].map((n) => app.effects.stop(rt, n)));
        }
      }
      // a request still in flight (a large download) holds the close: it is cut in time for the drain's 10 s
      const cut = setTimeout(() => httpServer.closeAllConnections(), 5_000);
      await new Promise<void>((resolve) => io.close(() => resolve()));
      clearTimeout(cut);
      await local.close();
      await closeDockerClouds(app);
      httpServer.closeAllConnections();
      await app.effects.settleReports(5_000);
      // the parameter writes of the last turn are committed (group commit) before the database closes
      await new Promise((resolve) => setImmediate(resolve));
      runs.params.close();
      await checkpointer.stop();
      db.$client.close();
    },
  };
}
