// The simulated agents of the limits benchmark (bench/limits.ts), forked as a process of their own so that neither the
// server nor the bench's own timing shares their event loop. Plain JS: no TypeScript loader in the fork.
// Each agent is a socket.io client speaking the real /agent protocol with its instance's token: it completes
// Provisioning, waits for Executing, then writes its own parameter at a steady rate (one write per period, from a
// random phase, skipping a tick while its last write is unanswered). One /ui watcher per run follows its events.
// Messages from the parent: {type:"start", …} then {type:"stop"}; to the parent: "executing", then "stopped".
import { io } from "socket.io-client";

const sockets = [];
const timers = [];
let ok = 0;
let errors = 0;
let behind = 0;
let watcherEvents = 0;
let stopping = false;
let loadStart = 0;

function agentToExecuting(url, protocolVersion, agent) {
  const socket = io(`${url}/agent`, {
    auth: { token: agent.token, protocolVersion },
    transports: ["websocket"],
    reconnection: false,
  });
  sockets.push(socket);
  let hello;
  const connected = new Promise((resolve) => {
    hello = resolve;
  });
  const executing = new Promise((resolve, reject) => {
    let completed = false;
    const onState = (s) => {
      if (s.state === "Provisioning" && !completed && !s.completed) {
        completed = true;
        socket.emit("state:complete", { state: "Provisioning" }, () => {});
      }
      if (s.state === "Executing") resolve(socket);
      if (s.abort) reject(new Error(`run aborted: ${s.abort}`));
    };
    socket.on("agent:hello", (m) => {
      hello();
      onState(m.run);
    });
    socket.on("run:state", onState);
    socket.on("connect_error", (e) => reject(new Error(`${agent.key}: ${e.message}`)));
  });
  // a refused handshake must fail the batch, not leave it waiting for a hello
  return { connected: Promise.race([connected, executing.then(() => {})]), executing };
}

function watch(url, protocolVersion, uiToken, runId) {
  const socket = io(`${url}/ui`, { auth: { token: uiToken, protocolVersion }, transports: ["websocket"] });
  sockets.push(socket);
  let lastSeq = 0;
  const subscribe = () =>
    socket.emit("run:subscribe", { runId, since: lastSeq }, (ack) => {
      if (ack.ok && !ack.data.complete) subscribe();
    });
  socket.on("connect", subscribe);
  socket.on("run:events", (events) => {
    for (const e of events) if (e.seq > lastSeq) lastSeq = e.seq;
    watcherEvents += events.length;
  });
}

function writeLoad(socket, key, periodMs) {
  // a connection's own prefix: request ids are per instance, and unique within it as the agent makes them
  const prefix = `load-${Math.random().toString(36).slice(2)}`;
  let n = 0;
  let inFlight = false;
  const tick = () => {
    if (stopping) return;
    timers.push(setTimeout(tick, periodMs));
    if (inFlight) {
      behind++;
      return;
    }
    inFlight = true;
    // with a request id made as the agent makes them (protocol/agent-socket.ts requestIdOf): its answer is stored
    const value = String(n++);
    const requestId = `${Date.now().toString(36).padStart(9, "0")}-${prefix}-${value}`;
    socket.emit("param:set", { key, value, requestId }, (ack) => {
      inFlight = false;
      if (ack?.ok) ok++;
      else errors++;
    });
  };
  timers.push(setTimeout(tick, Math.random() * periodMs));
}

process.on("message", async (m) => {
  if (m.type === "start") {
    const { url, protocolVersion, uiToken, agents, runIds, writesPerAgentPerSecond } = m;
    try {
      for (const runId of runIds) watch(url, protocolVersion, uiToken, runId);
      // in batches: a thousand handshakes at once only measures the listen backlog
      // Executing needs every instance of a run past Provisioning, so all connect first, then all are awaited
      const links = [];
      for (let i = 0; i < agents.length; i += 100) {
        const batch = agents.slice(i, i + 100).map((a) => agentToExecuting(url, protocolVersion, a));
        links.push(...batch);
        await Promise.all(batch.map((l) => l.connected));
      }
      const ready = await Promise.all(links.map((l) => l.executing));
      const periodMs = 1000 / writesPerAgentPerSecond;
      loadStart = performance.now();
      for (const [i, socket] of ready.entries()) writeLoad(socket, agents[i].key, periodMs);
      process.send({ type: "executing" });
    } catch (err) {
      process.send({ type: "failed", message: String(err?.message ?? err) });
    }
  }
  if (m.type === "stop") {
    stopping = true;
    for (const t of timers) clearTimeout(t);
    const seconds = (performance.now() - loadStart) / 1000;
    for (const s of sockets) s.close();
    process.send({ type: "stopped", ok, errors, behind, seconds, watcherEvents }, () => process.exit(0));
  }
});
