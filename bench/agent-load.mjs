// Load generator of the throughput benchmark, run in a worker thread so the server keeps a core of its own.
// Plain JS (no TypeScript loader needed in the worker). Each connection is one agent of the run: it completes
// Provisioning, waits for Executing, then writes its own parameter in a closed loop for `durationMs`.
import fs from "node:fs";
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

/** CPU time (user + system) of this thread, in ms, from /proc (10 ms ticks; NaN where there is none) */
function threadCpuMs() {
  try {
    const stat = fs.readFileSync("/proc/thread-self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

let ok = 0;
let errors = 0;
const cpu0 = threadCpuMs();
const t0 = performance.now();
const end = t0 + durationMs;
await Promise.all(
  sockets.map(async (socket, i) => {
    const key = agents[i].key;
    let n = 0;
    while (performance.now() < end) {
      // with a request id made as the agent makes them (protocol/agent-socket.ts requestIdOf): its answer is stored
      const value = String(n++);
      const requestId = `${Date.now().toString(36).padStart(9, "0")}-load${i}-${value}`;
      const ack = await new Promise((resolve) => socket.emit("param:set", { key, value, requestId }, resolve));
      if (ack.ok) ok++;
      else errors++;
    }
  }),
);
const elapsedMs = performance.now() - t0;
const cpuMs = threadCpuMs() - cpu0;
for (const s of sockets) s.close();
parentPort.postMessage({ type: "done", ok, errors, elapsedMs, cpuMs });
