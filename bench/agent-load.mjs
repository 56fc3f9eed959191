// Load generator of the throughput benchmark, run in a worker thread so the server keeps a core of its own.
// Plain JS (no TypeScript loader needed in the worker). Each connection is one agent of the run: it completes
// Provisioning, waits for Executing, then writes its own parameter in a closed loop for `durationMs`.
import { parentPort, workerData } from "node:worker_threads";
import { io } from "socket.io-client";

const { url, agents, protocolVersion, durationMs } = workerData;

const sockets = agents.map(({ token }) =>
  io(`${url}/agent`, { auth: { token, protocolVersion }, transports: ["websocket"], reconnection: false }),
);

const executing = sockets.map(
  (socket) =>
    new Promise((resolve, reject) => {
      let completed = false;
      const onState = (s) => {
        if (s.state === "Provisioning" && !completed && !s.completed) {
          completed = true;
          socket.emit("state:complete", { state: "Provisioning" }, () => {});
        }
        if (s.state === "Executing") resolve();
        if (s.abort) reject(new Error(`run aborted: ${s.abort}`));
      };
      socket.on("agent:hello", (m) => onState(m.run));
      socket.on("run:state", onState);
      socket.on("connect_error", (e) => reject(e));
    }),
);

await Promise.all(executing);
parentPort.postMessage({ type: "ready" });
await new Promise((resolve) => parentPort.once("message", resolve));

let ok = 0;
let errors = 0;
const t0 = performance.now();
const end = t0 + durationMs;
await Promise.all(
  sockets.map(async (socket, i) => {
    const key = agents[i].key;
    let n = 0;
    while (performance.now() < end) {
      const ack = await new Promise((resolve) => socket.emit("param:set", { key, value: String(n++) }, resolve));
      if (ack.ok) ok++;
      else errors++;
    }
  }),
);
const elapsedMs = performance.now() - t0;
for (const s of sockets) s.close();
parentPort.postMessage({ type: "done", ok, errors, elapsedMs });
