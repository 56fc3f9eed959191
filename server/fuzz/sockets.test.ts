import fc from "fast-check";
import { io as ioClient, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentClientToServer } from "../../protocol/agent-socket.js";
import type { RunDetail } from "../../protocol/run.js";
import type { UiClientToServer } from "../../protocol/ui-socket.js";
import { PROTOCOL_VERSION } from "../../protocol/version.js";
import { RSS_GROWTH_LIMIT } from "./check.js";
import { anyJson, headerSafe, mutated, nastyKey, nastyString, ownObject, PROTO_NAMES } from "./payloads.js";
import { ANSWER_WITHIN_MS, send } from "./send.js";
import { buildWorld, IMAGE, type World } from "./world.js";

/**
 * Issue 11: every event the /ui and /agent namespaces handle, driven with random and adversarial payloads over
 * real sockets. Each emit with an ack is answered within a second with `{ ok, data | error }` (never INTERNAL);
 * an emit without one, with two payloads or none leaves the connection answering; handshakes with odd credentials
 * are refused, never crash; /api/health answers after each batch and memory stays bounded.
 * A failure prints fast-check's seed and counterexample: FUZZ_SEED=<seed> FUZZ_BUDGET_MS=600000 replays it.
 */
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const RUNS = Number(process.env.FUZZ_RUNS ?? 50);
/** socket.io's frame limit on this server (app.ts maxHttpBufferSize): a bigger packet closes the connection */
const MAX_FRAME = 1e6;

/**
 * A valid payload (or several) of every event of the protocol maps. The maps type the server's `socket.on` calls,
 * so an event the server handles is a key here, and a key missing here does not compile.
 */
const UI_EVENTS = (w: World): { [E in keyof UiClientToServer]: unknown[] } => ({
  "run:subscribe": [
    { runId: w.agentRun, since: 0 },
    { runId: w.steeredRun, since: 3 },
  ],
  "run:unsubscribe": [{ runId: w.agentRun }],
  "runs:subscribe": [{}],
  "term:open": [{ runId: w.agentRun, instance: "machine.1", rows: 24, cols: 80 }],
  "term:input": [{ runId: w.agentRun, session: "term-fuzz", data: "ls\r" }],
  "term:resize": [{ runId: w.agentRun, session: "term-fuzz", rows: 30, cols: 100 }],
  "term:close": [{ runId: w.agentRun, session: "term-fuzz" }],
  "term:attach": [{ runId: w.agentRun, since: { "term-fuzz": 3 } }, { runId: w.steeredRun }],
});

/**
 * Valid agent payloads chosen so that none waits: the key read is set, the run is not scalable (adds and removes
 * are refused at once), so an ack later than a second is a hang, not a wait the agent asked for.
 */
const AGENT_EVENTS: { [E in keyof AgentClientToServer]: unknown[] } = {
  "param:get": [{ requestId: "g-1", key: "machine.1:fuzz_out", noblock: true, ignoreAbort: true }],
  "param:set": [{ requestId: "s-1", key: "machine.1:fuzz_out", value: "v", ignoreAbort: true }],
  "param:get-all": [{ requestId: "ga-1", node: "machine", name: "fuzz_out", timeout: 1 }],
  "param:cancel": [{ requestId: "c-1", wait: "g-1" }],
  "run:abort": [{ message: "fuzz" }, { cancel: true }],
  "state:complete": [{ requestId: "sc-1", state: "Provisioning" }],
  "log:append": [{ requestId: "l-1", chunk: 1, target: "execute", stream: "stdout", data: "hello\n" }],
  "node:add": [{ node: "machine", count: 1 }],
  "node:remove": [{ node: "machine", ids: [1] }],
  "abort:receipt": [
    {
      requestId: "ar-1",
      seenSeq: 1,
      reachedAt: "2026-01-01T00:00:00.000Z",
      scripts: [{ target: "execute", pid: 42, signals: ["TERM"], exitCode: 3, exitSignal: null }],
      report: "pending",
      reportError: null,
      revision: 1,
    },
  ],
  "term:output": [{ requestId: "to-1", session: "term-fuzz", chunk: 1, data: "$ " }],
  "term:exit": [{ requestId: "te-1", session: "term-fuzz", code: 0 }],
};

/** FUZZ_STATS=1 prints, per event, the outcomes the fuzz got (ok, each error code, disconnects): what it reached */
const stats = new Map<string, Map<string, number>>();
function tally(key: string, o: Outcome): void {
  const v = o.kind === "ack" ? (o.value as { ok?: boolean; error?: { code?: string } } | undefined) : undefined;
  const what = o.kind !== "ack" ? o.kind : v?.ok ? "ok" : (v?.error?.code ?? "?");
  const m = stats.get(key) ?? new Map<string, number>();
  m.set(what, (m.get(what) ?? 0) + 1);
  stats.set(key, m);
}

/**
 * What the random runs of all events may take together (the handshakes and raw packets get two seconds each): the
 * file stays well within the suite's minute. A run in flight is never cut short: a hang must show as one.
 */
const EVENT_BUDGET_MS =
  Number(process.env.FUZZ_BUDGET_MS ?? 8_000) /
  (Object.keys(UI_EVENTS({} as World)).length + Object.keys(AGENT_EVENTS).length);

let w: World;
let rssAtStart = 0;
const open: Socket[] = [];

function connect(nsp: "/ui" | "/agent", auth: unknown, headers?: Record<string, string>): Socket {
  const socket = ioClient(`${w.s.url}${nsp}`, {
    auth: auth as Record<string, unknown>,
    extraHeaders: headers,
    transports: ["websocket"],
    reconnection: false,
    timeout: ANSWER_WITHIN_MS,
  });
  open.push(socket);
  return socket;
}

/**
 * Connected, the connect_error's message, the connection closed (socket.io's parser refuses a CONNECT whose auth is
 * not an object by closing it), or "timeout": whichever comes first within the bound.
 */
function handshake(socket: Socket): Promise<"connected" | string> {
  return new Promise((resolve) => {
    const done = (r: string) => {
      clearTimeout(t);
      resolve(r);
    };
    const t = setTimeout(() => done("timeout"), ANSWER_WITHIN_MS);
    socket.once("connect", () => done("connected"));
    socket.once("connect_error", (e) => done(`refused: ${e.message}`));
    socket.io.once("close", (reason) => done(`closed: ${reason}`));
  });
}

/** The /ui connection of the admin, and the /agent connection of the agent run's one instance. */
const sessions = {
  ui: null as Socket | null,
  agent: null as Socket | null,
  agentRunId: "",
};

async function uiSocket(): Promise<Socket> {
  if (sessions.ui?.connected) return sessions.ui;
  sessions.ui?.close();
  const s = connect("/ui", { token: w.admin, protocolVersion: PROTOCOL_VERSION });
  expect(await handshake(s)).toBe("connected");
  sessions.ui = s;
  return s;
}

/** The agent's socket; a new run when the fuzz ended the last one (its token ends with it). */
async function agentSocket(): Promise<Socket> {
  if (sessions.agent?.connected) return sessions.agent;
  sessions.agent?.close();
  if (w.s.app.runs.get(sessions.agentRunId).terminal) {
    w.agents.launches.clear();
    const run = await w.s.api<RunDetail>("POST", "/api/runs", {
      module: IMAGE,
      clouds: { machine: "agents" },
      keepRunning: "always",
    });
    expect(run.status, JSON.stringify(run.body)).toBe(201);
    sessions.agentRunId = run.body.id;
  }
  const { token } = await w.agents.launched("machine.1");
  const s = connect("/agent", { token, protocolVersion: PROTOCOL_VERSION });
  expect(await handshake(s)).toBe("connected");
  // the key the valid param:get and param:get-all read: set, so they answer at once
  const set = await call(s, "param:set", [{ key: "machine.1:fuzz_out", value: "v", ignoreAbort: true }], "ack");
  expect(set.kind, JSON.stringify(set)).toBe("ack");
  sessions.agent = s;
  return s;
}

type Outcome = { kind: "ack"; value: unknown } | { kind: "disconnect"; reason: string } | { kind: "timeout" };

/** Emits and waits for the ack (the last argument) or the connection's end, within the bound. */
function call(socket: Socket, event: string, args: unknown[], shape: "ack" | "none"): Promise<Outcome> {
  return new Promise((resolve) => {
    const done = (o: Outcome) => {
      clearTimeout(timer);
      socket.off("disconnect", onDisconnect);
      resolve(o);
    };
    const onDisconnect = (reason: string) => done({ kind: "disconnect", reason });
    const timer = setTimeout(() => done({ kind: "timeout" }), ANSWER_WITHIN_MS);
    socket.on("disconnect", onDisconnect);
    if (shape === "ack") socket.emit(event, ...args, (value: unknown) => done({ kind: "ack", value }));
    else {
      socket.emit(event, ...args);
      done({ kind: "ack", value: { ok: true, data: "no ack asked" } });
    }
  });
}

function ackProblem(v: unknown): string | null {
  const a = v as { ok?: unknown; error?: { code?: unknown; message?: unknown } } | null;
  if (a?.ok === true) return null;
  if (a?.ok === false && typeof a.error?.code === "string" && typeof a.error.message === "string") {
    return a.error.code === "INTERNAL" ? "an INTERNAL error for bad input" : null;
  }
  return `not an ack: ${JSON.stringify(v)?.slice(0, 300)}`;
}

const deep = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
};

/** A payload for an event: its own shape with a twist, random JSON, something not an object, a huge one. */
function payloadFor(bases: unknown[]): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...bases).chain(mutated) },
    { weight: 2, arbitrary: fc.constantFrom(...bases) },
    { weight: 2, arbitrary: anyJson },
    { weight: 1, arbitrary: nastyString },
    { weight: 1, arbitrary: fc.constantFrom(undefined, null, 0, -1, true, [], "", 1e308) },
    { weight: 1, arbitrary: fc.array(fc.tuple(nastyKey, anyJson), { maxLength: 4 }).map(ownObject) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        deep(1000),
        Array.from({ length: 150_000 }, () => 1),
        { data: "x".repeat(MAX_FRAME + 10) },
        Buffer.alloc(1000, 7),
      ),
    },
  );
}

/** How the payload is sent: one with an ack (mostly), without an ack, two of them, none at all. */
const SHAPES = ["ack", "ack", "ack", "ack", "no ack", "two payloads", "no payload"] as const;

async function fuzzEvent(
  nsp: "/ui" | "/agent",
  event: string,
  bases: unknown[],
  socketFor: () => Promise<Socket>,
  probe: () => [string, unknown],
): Promise<void> {
  const arb = fc.record({ payload: payloadFor(bases), shape: fc.constantFrom(...SHAPES), extra: anyJson });
  const deadline = Date.now() + EVENT_BUDGET_MS;
  await fc.assert(
    fc.asyncProperty(arb, async ({ payload, shape, extra }) => {
      if (Date.now() > deadline) return;
      const socket = await socketFor();
      const args = shape === "two payloads" ? [payload, extra] : shape === "no payload" ? [] : [payload];
      const size = Buffer.byteLength(JSON.stringify(args) ?? "");
      const what = `${nsp} ${event} (${shape}) ${JSON.stringify(args)?.slice(0, 300)}`;
      let outcome = await call(socket, event, args, shape === "no ack" ? "none" : "ack");
      // whatever was sent without an ack, the connection still answers the next request
      if (shape === "no ack" && socket.connected) {
        const [pe, pp] = probe();
        outcome = await call(socket, pe, [pp], "ack");
      }
      tally(`${nsp} ${event}`, outcome);
      if (outcome.kind === "timeout") throw new Error(`no ack within ${ANSWER_WITHIN_MS} ms: ${what}`);
      if (outcome.kind === "disconnect") {
        const runEnded = nsp === "/agent" && w.s.app.runs.get(sessions.agentRunId).terminal;
        // socket.io closes a connection whose frame is over its limit; the run's end closes its agents'
        if (size <= MAX_FRAME && !runEnded) throw new Error(`disconnected (${outcome.reason}): ${what}`);
        return;
      }
      const problem = ackProblem(outcome.value);
      if (problem) throw new Error(`${problem}: ${what}`);
    }),
    { numRuns: RUNS, seed: SEED },
  );
  const health = await send(w.s.url, { method: "GET", path: "/api/health" });
  expect(health.status, "GET /api/health after the batch").toBe(200);
}

beforeAll(async () => {
  w = await buildWorld();
  sessions.agentRunId = w.agentRun;
  rssAtStart = process.memoryUsage().rss;
});
afterAll(async () => {
  if (process.env.FUZZ_STATS) {
    for (const [key, m] of stats) console.log(key.padEnd(24), JSON.stringify(Object.fromEntries(m)));
  }
  for (const s of open) s.close();
  await w?.s.close();
});

describe("fuzz: every /ui event", () => {
  for (const event of Object.keys(UI_EVENTS({} as World))) {
    it(event, async () => {
      await fuzzEvent("/ui", event, UI_EVENTS(w)[event as keyof UiClientToServer], uiSocket, () => [
        "run:unsubscribe",
        { runId: "probe" },
      ]);
    });
  }
});

describe("fuzz: every /agent event", () => {
  for (const [event, bases] of Object.entries(AGENT_EVENTS)) {
    it(event, async () => {
      await fuzzEvent("/agent", event, bases, agentSocket, () => ["param:cancel", { wait: "probe" }]);
    });
  }
});

describe("fuzz: handshakes and raw packets", () => {
  const odd = fc.oneof(
    anyJson,
    fc.record({
      token: fc.oneof(nastyString, anyJson),
      protocolVersion: fc.oneof(fc.constant(PROTOCOL_VERSION), anyJson),
    }),
    fc.constantFrom(
      { protocolVersion: PROTOCOL_VERSION },
      { token: "x".repeat(10_000), protocolVersion: PROTOCOL_VERSION },
      ...PROTO_NAMES.map((n) => ownObject([[n, { token: "a" }]])),
    ),
  );
  const cookie = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom("ss_session=%", "ss_session=%E0%A4%A", ";;=", "ss_session=a=b", "ss_session"),
    nastyString.map((v) => `ss_session=${headerSafe(v)}`),
  );

  for (const nsp of ["/ui", "/agent"] as const) {
    it(`${nsp}: odd credentials are refused within a second, or let in as who they are`, async () => {
      const deadline = Date.now() + 2000;
      await fc.assert(
        fc.asyncProperty(odd, cookie, async (auth, c) => {
          if (Date.now() > deadline) return;
          const socket = connect(
            nsp,
            auth === null || typeof auth !== "object" ? { value: auth } : auth,
            c ? { cookie: c } : undefined,
          );
          const result = await handshake(socket);
          socket.close();
          if (result === "timeout")
            throw new Error(`${nsp} handshake unanswered: ${JSON.stringify(auth)?.slice(0, 200)} ${c}`);
          if (result === "connected" && nsp === "/agent")
            throw new Error(`an agent let in with ${JSON.stringify(auth)}`);
        }),
        { numRuns: RUNS, seed: SEED },
      );
      expect((await send(w.s.url, { method: "GET", path: "/api/health" })).status).toBe(200);
    });
  }

  it("packets no client library sends: the connection may close, the server carries on", async () => {
    const packets = fc.oneof(
      fc.constantFrom(
        '2/agent,["param:get"]',
        '2/agent,["param:get",1,2,3]',
        '2/agent,1["param:get"]',
        "2/agent,[]",
        '2/agent,"x"',
        '2/agent,["constructor",{}]',
        '2/agent,["__proto__",{}]',
        '2/agent,["toString"]',
        '2/agent,["disconnect"]',
        '2/agent,{"__proto__":1}',
        `2/agent,9["param:get",${"[".repeat(10_000)}${"]".repeat(10_000)}]`,
        `2/agent,9["param:set",${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}]`,
        '5/agent,1-["param:get",{"_placeholder":true,"num":0}]',
        "3/agent,5[]",
        "0/agent,",
        "0/nope,{}",
        "1/agent,",
        "9",
        "",
      ),
      fc.string({ maxLength: 40 }).map((s) => `2/agent,${s}`),
    );
    const deadline = Date.now() + 2000;
    await fc.assert(
      fc.asyncProperty(packets, async (packet) => {
        if (Date.now() > deadline) return;
        const socket = await agentSocket();
        (socket.io.engine as unknown as { send(m: string): void }).send(packet);
        // the connection either carries on answering or is closed by the server; either way it answers in time
        let outcome = await call(socket, "param:cancel", [{ wait: "probe" }], "ack");
        // a CONNECT or DISCONNECT of the namespace changes, on the server's side only, which socket the connection
        // speaks for: this client no longer matches it, and a new connection must be served as usual
        if (outcome.kind === "timeout" && /^[01]/.test(packet)) {
          socket.close();
          outcome = await call(await agentSocket(), "param:cancel", [{ wait: "probe" }], "ack");
        }
        if (outcome.kind === "timeout")
          throw new Error(`no answer after the packet ${JSON.stringify(packet.slice(0, 200))}`);
        if (outcome.kind === "ack" && ackProblem(outcome.value))
          throw new Error(`${ackProblem(outcome.value)} after ${packet}`);
      }),
      { numRuns: RUNS, seed: SEED },
    );
    expect((await send(w.s.url, { method: "GET", path: "/api/health" })).status).toBe(200);
  });
});

describe("fuzz: the server's memory", () => {
  it(`grows by less than ${RSS_GROWTH_LIMIT / 2 ** 20} MiB over the whole file`, () => {
    const grown = process.memoryUsage().rss - rssAtStart;
    if (process.env.FUZZ_STATS) console.log(`RSS grew by ${Math.round(grown / 2 ** 20)} MiB`);
    expect(grown, `RSS grew by ${Math.round(grown / 2 ** 20)} MiB`).toBeLessThan(RSS_GROWTH_LIMIT);
  });
});
