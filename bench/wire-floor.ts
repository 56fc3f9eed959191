/**
 * Profile of figure 1: the wake's exchange over the wire alone, to a server that does nothing else. A waiting
 * `param:get` is answered when the `param:set` arrives, one turn of the event loop later, and the setter's ack a turn
 * after that (the group commit's order, server/runs/run-group-commit.ts): what the wake would cost if the server's own
 * work (checks, SQLite, the run's memory) took no time. Over socket.io as the agents speak it, and over a bare
 * WebSocket (the `ws` package, JSON with ids): what a leaner wire would leave. Interleaved with Redis's BLPOP, as
 * figure 1 is.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { io as ioClient } from "socket.io-client";
import { WebSocket, WebSocketServer } from "ws";
import { type RedisServer, Resp, type Stats, stats, type WakeCall, wakeSamples } from "./lib.js";

interface Wire {
  a: WakeCall;
  b: WakeCall;
  close(): void;
}

/** Answers the held get on the set's next turn, then the set's own ack on the turn after. */
function answerOrder(held: { answer: ((a: unknown) => void) | null }, value: string, ack: (a: unknown) => void) {
  setImmediate(() => {
    held.answer?.({ ok: true, data: { value } });
    held.answer = null;
    setImmediate(() => ack({ ok: true, data: { seq: 1 } }));
  });
}

async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

async function socketIoWire(): Promise<Wire> {
  const httpServer = http.createServer();
  const io = new Server(httpServer, { serveClient: false, pingInterval: 4_000, pingTimeout: 4_000 });
  const held: { answer: ((a: unknown) => void) | null } = { answer: null };
  io.of("/agent").on("connection", (socket) => {
    socket.on("param:get", (_req: unknown, ack: (a: unknown) => void) => {
      held.answer = ack;
    });
    socket.on("param:set", (req: { value: string }, ack: (a: unknown) => void) => answerOrder(held, req.value, ack));
  });
  const port = await listen(httpServer);
  const connect = () =>
    new Promise<ReturnType<typeof ioClient>>((resolve, reject) => {
      const s = ioClient(`http://127.0.0.1:${port}/agent`, { transports: ["websocket"], reconnection: false });
      s.once("connect", () => resolve(s));
      s.once("connect_error", reject);
    });
  const [a, b] = [await connect(), await connect()];
  return {
    a: (e, p) => a.emitWithAck(e, p),
    b: (e, p) => b.emitWithAck(e, p),
    close() {
      a.close();
      b.close();
      io.close();
    },
  };
}

async function bareWire(): Promise<Wire> {
  const httpServer = http.createServer();
  const wss = new WebSocketServer({ server: httpServer });
  const held: { answer: ((a: unknown) => void) | null } = { answer: null };
  wss.on("connection", (ws) => {
    ws.on("message", (data) => {
      const m = JSON.parse(String(data)) as { event: string; id: number; payload: { value: string } };
      const ack = (answer: unknown) => ws.send(JSON.stringify({ id: m.id, answer }));
      if (m.event === "param:get") held.answer = ack;
      else answerOrder(held, m.payload.value, ack);
    });
  });
  const port = await listen(httpServer);
  const connect = () =>
    new Promise<{ call: WakeCall; ws: WebSocket }>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      const acks = new Map<number, (a: unknown) => void>();
      let next = 0;
      ws.on("message", (data) => {
        const m = JSON.parse(String(data)) as { id: number; answer: unknown };
        const ack = acks.get(m.id);
        acks.delete(m.id);
        ack?.(m.answer);
      });
      ws.once("open", () =>
        resolve({
          ws,
          call: (event, payload) =>
            new Promise((ack) => {
              const id = ++next;
              acks.set(id, ack);
              ws.send(JSON.stringify({ event, id, payload }));
            }),
        }),
      );
      ws.once("error", reject);
    });
  const [a, b] = [await connect(), await connect()];
  return {
    a: a.call,
    b: b.call,
    close() {
      a.ws.close();
      b.ws.close();
      wss.close();
      httpServer.close();
    },
  };
}

export interface WireFloorResult {
  socketIo: Stats;
  bare: Stats;
  redis: Stats;
}

/** Two unmeasured passes of `n` on each wire (V8 warms up within them), then one measured pass each. */
export async function wireFloor(redis: RedisServer, n: number): Promise<WireFloorResult> {
  const ra = await Resp.connect(redis.port);
  const rb = await Resp.connect(redis.port);
  const [sio, bare] = [await socketIoWire(), await bareWire()];
  try {
    for (let pass = 0; pass < 2; pass++) {
      await wakeSamples(sio.a, sio.b, ra, rb, n, `sio-warm${pass}`);
      await wakeSamples(bare.a, bare.b, ra, rb, n, `bare-warm${pass}`);
    }
    const s = await wakeSamples(sio.a, sio.b, ra, rb, n, "sio");
    const b = await wakeSamples(bare.a, bare.b, ra, rb, n, "bare");
    return { socketIo: stats(s.server), bare: stats(b.server), redis: stats([...s.redis, ...b.redis]) };
  } finally {
    sio.close();
    bare.close();
    ra.close();
    rb.close();
  }
}
