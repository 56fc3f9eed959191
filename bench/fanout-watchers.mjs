// The receiving side of the fan-out benchmark (3), run in a worker thread: N /ui watchers of a run AND N Redis
// subscribers, so both servers push to clients that live in the same thread, parse alike and compete with neither
// server for its event loop (Redis is a process of its own; before, the watchers ran in the server's thread).
// Plain JS (no TypeScript loader in a worker). Every value the parent publishes is counted per value, so no
// message has to arm the count before the push it is about; once all N of one side have a value, the worker posts
// the monotonic time (process.hrtime, the same clock in every thread) at which the last one got it.
import net from "node:net";
import { parentPort, workerData } from "node:worker_threads";
import { io } from "socket.io-client";

const { url, token, runId, protocolVersion, n, redisPort, channel, key } = workerData;
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

const counts = new Map();
const seen = (side, value) => {
  const k = `${side}\0${value}`;
  const c = (counts.get(k) ?? 0) + 1;
  if (c === n) {
    counts.delete(k);
    parentPort.postMessage({ type: "all", side, value, at: nowMs() });
  } else counts.set(k, c);
};

/** A RESP2 subscriber: parses every push it gets into channel and message, as a Redis client library does. */
function subscriber() {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(redisPort, "127.0.0.1");
    s.setNoDelay(true);
    let buf = Buffer.alloc(0);
    let subscribed = false;
    // one element of a multi-bulk reply at `at`: [string, next] or null while incomplete
    const bulk = (at) => {
      const nl = buf.indexOf("\r\n", at);
      if (nl === -1) return null;
      if (buf[at] === 0x3a) return [buf.toString("latin1", at + 1, nl), nl + 2];
      const len = Number(buf.toString("latin1", at + 1, nl));
      if (buf.length < nl + 2 + len + 2) return null;
      return [buf.toString("utf8", nl + 2, nl + 2 + len), nl + 2 + len + 2];
    };
    s.on("data", (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      for (;;) {
        const nl = buf.indexOf("\r\n");
        if (nl === -1 || buf[0] !== 0x2a) break;
        const count = Number(buf.toString("latin1", 1, nl));
        let pos = nl + 2;
        const items = [];
        for (let i = 0; i < count; i++) {
          const item = bulk(pos);
          if (!item) break;
          items.push(item[0]);
          pos = item[1];
        }
        if (items.length < count) break;
        buf = buf.subarray(pos);
        if (items[0] === "message" && items[1] === channel) seen("redis", items[2]);
        else if (items[0] === "subscribe" && !subscribed) {
          subscribed = true;
          resolve(s);
        }
      }
    });
    s.once("error", reject);
    s.write(`*2\r\n$9\r\nSUBSCRIBE\r\n$${Buffer.byteLength(channel)}\r\n${channel}\r\n`);
  });
}

/** A /ui client as the browser's (socket.io-client), subscribed to the run. */
function watcher() {
  return new Promise((resolve, reject) => {
    const socket = io(`${url}/ui`, {
      auth: { token, protocolVersion },
      transports: ["websocket"],
      reconnection: false,
    });
    socket.once("connect_error", reject);
    socket.once("connect", () =>
      socket.emit("run:subscribe", { runId, since: 0 }, (ack) => {
        if (!ack?.ok) return reject(new Error(`run:subscribe: ${JSON.stringify(ack)}`));
        socket.on("run:events", (events) => {
          for (const e of events) if (e.body.type === "param" && e.body.key === key) seen("server", e.body.value);
        });
        resolve(socket);
      }),
    );
  });
}

const BATCH = 50;
const sockets = [];
const subs = [];
try {
  for (let i = 0; i < n; i += BATCH) {
    const k = Math.min(BATCH, n - i);
    sockets.push(...(await Promise.all(Array.from({ length: k }, watcher))));
    subs.push(...(await Promise.all(Array.from({ length: k }, subscriber))));
  }
  parentPort.postMessage({ type: "ready" });
} catch (e) {
  parentPort.postMessage({ type: "error", message: e instanceof Error ? e.message : String(e) });
}
parentPort.on("message", (m) => {
  if (m !== "close") return;
  for (const s of sockets) s.close();
  for (const s of subs) s.destroy();
  parentPort.close();
});
