import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { io as ioClient, type Socket } from "socket.io-client";
import type { Ack } from "../../protocol/ack.js";
import type {
  AgentAssignment,
  AgentClientToServer,
  AgentRunState,
  AgentServerToClient,
} from "../../protocol/agent-socket.js";
import type { RunDetail } from "../../protocol/run.js";
import { PROTOCOL_VERSION } from "../../protocol/version.js";
import { type RunningServer, type ServerOptions, startServer } from "../app.js";
import type { Connector, InstanceLaunch } from "../connectors/types.js";
import { testDataDirs } from "./data-dirs.js";
import { callJson } from "./json-api.js";

export const ADMIN_PASSWORD = "test-admin-password";

/**
 * A cloud whose machines are test peers: start() hands the launch (with its agent token) to the test, which
 * connects a socket speaking the real /agent protocol. It is a cloud for tests, not a stand-in for our code.
 */
export class PeerCloud implements Connector {
  readonly kind = "peer";
  readonly launches = new Map<string, InstanceLaunch>();
  readonly stopped: string[] = [];
  private waiters: (() => void)[] = [];

  async start(launch: InstanceLaunch) {
    this.launches.set(launch.instance, launch);
    for (const w of this.waiters.splice(0)) w();
    return { instanceId: `peer-${launch.instance}`, hostname: "127.0.0.1", workspace: "" };
  }

  async stop(instance: { instance: string }) {
    this.stopped.push(instance.instance);
  }

  async launched(instance: string): Promise<InstanceLaunch> {
    while (!this.launches.has(instance)) await new Promise<void>((r) => this.waiters.push(r));
    return this.launches.get(instance)!;
  }
}

export interface TestServer extends RunningServer {
  dataDir: string;
  token: string;
  /** when the server was listening and ready (epoch ms), before the test's own sign-in */
  readyAt: number;
  api<T = unknown>(
    method: string,
    url: string,
    body?: unknown,
    token?: string | null,
  ): Promise<{ status: number; body: T }>;
}

export async function startTestServer(
  opts: {
    dataDir?: string;
    connectors?: Map<string, Connector>;
    killGraceSeconds?: number;
    /** loopback unless a test's agents reach the server from elsewhere (network namespaces) */
    host?: string;
    local?: ServerOptions["local"];
    /** a fixed port, for a server restarted where its agents look for it (default: any free one) */
    port?: number;
    /** called once the server listens, before the test's own sign-in (a benchmark times restarts from here) */
    onReady?: (s: TestServer) => void;
  } = {},
): Promise<TestServer> {
  const dataDir = opts.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), "ss-test-")));
  testDataDirs.add(dataDir);
  const server = await startServer({
    port: opts.port ?? 0,
    host: opts.host ?? "127.0.0.1",
    dataDir,
    adminPassword: ADMIN_PASSWORD,
    ui: false,
    log: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    connectors: opts.connectors,
    killGraceSeconds: opts.killGraceSeconds,
    local: opts.local,
  });
  // null: no token at all; undefined: the admin's
  const api = <T>(method: string, url: string, body?: unknown, token?: string | null) =>
    callJson<T>(server.url, method, url, body, token === null ? null : (token ?? t.token));
  const t: TestServer = { ...server, dataDir, token: "", api, readyAt: Date.now() };
  opts.onReady?.(t);
  const login = await api<{ token: string }>(
    "POST",
    "/api/auth/login",
    { username: "admin", password: ADMIN_PASSWORD },
    null,
  );
  t.token = login.body.token;
  return t;
}

type PeerSocket = Socket<AgentServerToClient, AgentClientToServer>;

/** A test peer for one instance: connects with its token and exposes the protocol's calls as promises. */
/** Resolves with the run's detail once it is in `state` (pushed on the bus, not polled). */
export async function runReaches(s: TestServer, runId: string, state: string): Promise<RunDetail> {
  const pushed = new Promise<void>((resolve) => {
    const l = (m: { runId: string; state: string }) => {
      if (m.runId !== runId || m.state !== state) return;
      s.app.bus.off("run-changed", l);
      resolve();
    };
    s.app.bus.on("run-changed", l);
  });
  const now = (await s.api<RunDetail>("GET", `/api/runs/${runId}`)).body;
  if (now.state !== state) await pushed;
  return (await s.api<RunDetail>("GET", `/api/runs/${runId}`)).body;
}

/** Resolves with the run's detail once it has ended, whichever way (so a test expecting Done fails, not hangs). */
export async function runEnds(s: TestServer, runId: string): Promise<RunDetail> {
  const ended = ["Done", "Aborted", "Cancelled"];
  const pushed = new Promise<void>((resolve) => {
    const l = (m: { runId: string; state: string }) => {
      if (m.runId !== runId || !ended.includes(m.state)) return;
      s.app.bus.off("run-changed", l);
      resolve();
    };
    s.app.bus.on("run-changed", l);
  });
  const now = (await s.api<RunDetail>("GET", `/api/runs/${runId}`)).body;
  if (!ended.includes(now.state)) await pushed;
  return (await s.api<RunDetail>("GET", `/api/runs/${runId}`)).body;
}

/** The run's states an agent completes on its way to Ready, in order. */
export const AGENT_STATES = ["Provisioning", "Executing", "SendingReports", "Ready"] as const;

/** Every peer completes each of `states` in turn, all of them one state before any the next, as agents do. */
export async function completeThrough(
  peers: AgentPeer[],
  states: readonly AgentRunState["state"][] = AGENT_STATES,
): Promise<void> {
  for (const st of states) await Promise.all(peers.map((p) => p.completeWhen(st)));
}

export class AgentPeer {
  readonly socket: PeerSocket;
  state: AgentRunState | null = null;
  /** what the server assigned at the last hello */
  assignment: AgentAssignment | null = null;
  private listeners: ((s: AgentRunState) => void)[] = [];

  constructor(url: string, token: string) {
    this.socket = ioClient(`${url}/agent`, {
      auth: { token, protocolVersion: PROTOCOL_VERSION },
      transports: ["websocket"],
      reconnectionDelay: 50,
      reconnectionDelayMax: 200,
    });
    const update = (s: AgentRunState) => {
      if (this.state && s.seq < this.state.seq) return;
      this.state = s;
      for (const l of this.listeners) l(s);
    };
    this.socket.on("agent:hello", (m) => {
      this.assignment = m.assignment;
      update(m.run);
    });
    this.socket.on("run:state", update);
  }

  /** Resolves when a pushed state satisfies `pred` (pushed by the server, never polled). */
  until(pred: (s: AgentRunState) => boolean): Promise<AgentRunState> {
    if (this.state && pred(this.state)) return Promise.resolve(this.state);
    return new Promise((resolve) => {
      const l = (s: AgentRunState) => {
        if (!pred(s)) return;
        this.listeners = this.listeners.filter((x) => x !== l);
        resolve(s);
      };
      this.listeners.push(l);
    });
  }

  call<E extends keyof AgentClientToServer>(
    event: E,
    req: Parameters<AgentClientToServer[E]>[0],
  ): Promise<Ack<unknown>> {
    return new Promise((resolve) => {
      (this.socket.emit as (e: string, r: unknown, cb: (a: Ack<unknown>) => void) => void)(event, req, resolve);
    });
  }

  /**
   * Hangs up and connects again, as the agent does after a network failure; resolves on the new connection's hello.
   * A request re-sent after it carries the same `requestId` as the first send.
   */
  async reconnect(): Promise<void> {
    const hello = new Promise<void>((resolve) => this.socket.once("agent:hello", () => resolve()));
    this.socket.disconnect();
    this.socket.connect();
    await hello;
  }

  async completeWhen(state: AgentRunState["state"]): Promise<Ack<unknown>> {
    await this.until((s) => s.state === state);
    return this.call("state:complete", { state });
  }

  close(): void {
    this.socket.close();
  }
}
