import { chmod, rm, stat } from "node:fs/promises";
import net from "node:net";
import type { Ack } from "../protocol/ack.js";
import { describeZodError } from "../protocol/errors.js";
import { IpcRequest, type IpcResponse } from "./ipc-protocol.js";

/** One ss-* command connected to the agent. */
export interface IpcCaller {
  /** resolves when the command closed its connection (exited) */
  readonly closed: Promise<void>;
  readonly isClosed: boolean;
}

type IpcHandler = (request: IpcRequest, caller: IpcCaller) => Promise<Ack<unknown>>;

const MAX_LINE = 64 * 1024;

/** Keeps a command's connection in `sockets` while it is open and tells when it closed. */
export function trackCaller(socket: net.Socket, sockets: Set<net.Socket>): IpcCaller {
  sockets.add(socket);
  let closedFlag = false;
  const closed = new Promise<void>((resolve) =>
    socket.on("close", () => {
      closedFlag = true;
      sockets.delete(socket);
      resolve();
    }),
  );
  socket.on("error", () => undefined);
  return {
    closed,
    get isClosed() {
      return closedFlag;
    },
  };
}

/** The unix socket the ss-* commands talk to: newline-delimited JSON, one response line per request line. */
export class IpcServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  /** the inode of the socket file this server made: a later agent of the same workspace replaces it */
  private inode: number | null = null;

  constructor(
    private readonly socketPath: string,
    private readonly handle: IpcHandler,
  ) {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  /** See listenPrivately; `maskWhileBinding: false` where the process hosts other agents. */
  async listen(opts: { maskWhileBinding?: boolean } = {}): Promise<void> {
    // a socket file left by a previous agent of this workspace would make listen fail
    this.inode = await listenPrivately(this.server, this.socketPath, opts.maskWhileBinding !== false);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    // closing a unix-socket server unlinks its path; when an agent started again in this workspace (a server
    // restart during Initializing) has put its own socket there, leave the listener to the process's exit
    const now = await stat(this.socketPath).catch(() => null);
    if (now && now.ino !== this.inode) {
      this.server.unref();
      return;
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.socketPath, { force: true });
  }

  private accept(socket: net.Socket): void {
    const caller = trackCaller(socket, this.sockets);
    socket.setEncoding("utf8");
    let buffer = "";
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      let nl = buffer.indexOf("\n");
      while (nl !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.trim()) void this.answer(socket, line, caller);
        nl = buffer.indexOf("\n");
      }
      if (buffer.length > MAX_LINE) {
        this.reply(socket, null, { ok: false, error: { code: "BAD_REQUEST", message: "request line too long" } });
        socket.end();
      }
    });
  }

  private async answer(socket: net.Socket, line: string, caller: IpcCaller): Promise<void> {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      this.reply(socket, null, { ok: false, error: { code: "BAD_REQUEST", message: "request is not JSON" } });
      return;
    }
    const id = typeof (raw as { id?: unknown })?.id === "number" ? (raw as { id: number }).id : null;
    const parsed = IpcRequest.safeParse(raw);
    if (!parsed.success) {
      this.reply(socket, id, { ok: false, error: { code: "BAD_REQUEST", message: describeZodError(parsed.error) } });
      return;
    }
    let ack: Ack<unknown>;
    try {
      ack = await this.handle(parsed.data, caller);
    } catch (err) {
      ack = { ok: false, error: { code: "INTERNAL", message: (err as Error).message } };
    }
    this.reply(socket, id, ack);
  }

  private reply(socket: net.Socket, id: number | null, ack: Ack<unknown>): void {
    if (socket.destroyed) return;
    const response: IpcResponse = { ...ack, id };
    socket.write(`${JSON.stringify(response)}\n`);
  }
}

/**
 * Binds a unix socket only its owner may connect to (a file left at the path goes first); returns its inode. With
 * `maskWhileBinding` the umask is 177 while it is bound, so no one else can connect before the chmod. Not where the
 * process hosts other agents: the umask is the process's, and a file another agent creates meanwhile on libuv's
 * threads (its recipe scripts) would get it too — seen as "Permission denied" running `targets/execute` in a
 * 500-instance launch. There the umask is 022 already, so the socket is bound without write access for anyone but
 * its owner until the chmod.
 */
export async function listenPrivately(
  server: net.Server,
  socketPath: string,
  maskWhileBinding: boolean,
): Promise<number> {
  await rm(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const umask = maskWhileBinding ? process.umask(0o177) : null;
    try {
      server.listen(socketPath, () => {
        server.off("error", reject);
        resolve();
      });
    } finally {
      if (umask !== null) process.umask(umask);
    }
  });
  await chmod(socketPath, 0o600);
  return (await stat(socketPath)).ino;
}
