/**
 * The spawner of a run's agent host (`node spawner.mjs`, started by the host over a Node IPC channel; spawner.ts is
 * the host's side): it starts the machines and recipes the host asks for, so the host's thread never forks. A fork
 * copies the page tables of the whole forking process and blocks its thread until the child has exec'd — the host
 * grown with 500 agents spent half of a launch there; this small process forks cheaply, and blocks only itself.
 *
 * It reads none of the children's output: each pipe is a connection to the host's private socket, written a header
 * naming it and then handed to the child as its fd; the child writes straight to the host.
 */
import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import { describeZodError } from "../protocol/errors.js";
import { type SpawnerEvent, SpawnerRequest, streamHeader } from "./spawner-protocol.js";

const children = new Map<number, ChildProcess>();
let link: { socket: string; nonce: string } | null = null;

function tell(event: SpawnerEvent): void {
  if (process.connected) process.send?.(event);
}

/** One pipe of request `id`: connected to the host, its header written before any output of the child can be. */
function connectPipe(id: number, fd: number): Promise<net.Socket> {
  const { socket: at, nonce } = link as { socket: string; nonce: string };
  return new Promise((resolve, reject) => {
    const socket = net.connect(at);
    socket.once("error", reject);
    socket.once("connect", () => socket.write(streamHeader(nonce, id, fd), () => resolve(socket)));
  });
}

async function start(req: Extract<SpawnerRequest, { op: "spawn" }>): Promise<void> {
  let pipes: net.Socket[] = [];
  try {
    if (!link) throw new Error("the spawner was not told where its host listens");
    pipes = await Promise.all(Array.from({ length: req.pipes }, (_, i) => connectPipe(req.id, i + 1)));
  } catch (err) {
    for (const p of pipes) p.destroy();
    tell({ id: req.id, error: `spawn ${req.argv[0]}: ${(err as Error).message}` });
    return;
  }
  let child: ChildProcess;
  try {
    child = spawn(req.argv[0], req.argv.slice(1), {
      cwd: req.cwd,
      env: req.env as NodeJS.ProcessEnv,
      detached: req.detached,
      stdio: ["ignore", ...pipes],
    });
  } catch (err) {
    tell({ id: req.id, error: (err as Error).message });
    return;
  } finally {
    // the child has its own copies (spawn returns once it exec'd); closing ours is no shutdown of the connection
    for (const p of pipes) p.destroy();
  }
  if (child.pid === undefined) {
    child.once("error", (err) => tell({ id: req.id, error: err.message }));
    return;
  }
  children.set(req.id, child);
  tell({ id: req.id, pid: child.pid });
  child.once("exit", (code, signal) => {
    children.delete(req.id);
    tell({ id: req.id, exit: { code, signal } });
  });
}

process.on("message", (raw: unknown) => {
  const parsed = SpawnerRequest.safeParse(raw);
  if (!parsed.success) {
    process.stderr.write(`slipstream spawner: bad request: ${describeZodError(parsed.error)}\n`);
    return;
  }
  const req = parsed.data;
  if (req.op === "init") link = { socket: req.socket, nonce: req.nonce };
  else if (req.op === "spawn") void start(req);
  // only a child not yet reaped is signalled: its pid cannot have been given to another process meanwhile
  else children.get(req.id)?.kill(req.signal as NodeJS.Signals);
});

// the host's end is ours: its machines die with us (bubblewrap's --die-with-parent), so we die with the host, and
// only then — a signal to the host's process group (a stop) is for the host, which then stops its machines itself
process.on("disconnect", () => process.exit(0));
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(signal, () => undefined);
// what the children inherit from their parent as they did from the host: a host serves sandboxed agents only, which set
// the process's umask to 022 before their machine starts (Agent.start) — the host's own, from the server, is stricter
process.umask(0o022);
if (!process.send) {
  process.stderr.write("slipstream spawner: started without an IPC channel to its host\n");
  process.exit(2);
}
tell({ ready: true });
