import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { SS_EXIT } from "../protocol/errors.js";
import { encodeFastResponse, endpointLine, type FastRequest, MAX_FAST_REQUEST, parseFastRequest } from "./fast-ipc.js";
import { type IpcCaller, trackCaller } from "./ipc-server.js";

export interface FastAnswer {
  code: number;
  stdout: string;
  stderr: string;
}

type FastHandler = (request: Omit<FastRequest, "key">, caller: IpcCaller) => Promise<FastAnswer>;

/** A request must arrive whole this soon after connecting; the answer may take as long as the wait it asks for. */
const REQUEST_DEADLINE_MS = 10_000;

/** The loopback TCP listener of the bash wrappers (see fast-ipc.ts), announced in the endpoint file. */
export class FastIpcServer {
  private server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly key = randomBytes(24).toString("hex");
  /** what the agent answers first: the wrapper knows it's talking to its agent, not to whoever took its port */
  private readonly proof = randomBytes(24).toString("hex");
  /** the endpoint file's line, once listening */
  private line: string | null = null;

  constructor(
    private readonly endpointFile: string,
    private readonly handle: FastHandler,
  ) {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  /** Listens on loopback; or takes a listener `elsewhere` made (on the recipes' loopback, in their own network). */
  async listen(elsewhere?: () => Promise<net.Server | null>): Promise<void> {
    const made = elsewhere ? await elsewhere() : null;
    if (made) {
      this.server = made;
      made.on("connection", (socket) => this.accept(socket));
    } else
      await new Promise<void>((resolve, reject) => {
        this.server.once("error", reject);
        this.server.listen(0, "127.0.0.1", () => {
          this.server.off("error", reject);
          resolve();
        });
      });
    const { port, address } = this.server.address() as net.AddressInfo;
    this.line = endpointLine(port, this.key, this.proof, address === "127.0.0.1" ? undefined : address);
    // written whole under another name, then renamed: a wrapper never reads half a line
    const tmp = `${this.endpointFile}.${process.pid}`;
    await writeFile(tmp, this.line, { mode: 0o600 });
    await rename(tmp, this.endpointFile);
  }

  async close(): Promise<void> {
    // only while it still names us: another agent of this workspace may have written its own since
    const current = await readFile(this.endpointFile, "utf8").catch(() => null);
    if (this.line !== null && current === this.line) await rm(this.endpointFile, { force: true });
    for (const s of this.sockets) s.destroy();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    // refused by the listener's own filter (a host's listener on the bridge answers its instance only)
    if (socket.destroyed) return;
    const caller = trackCaller(socket, this.sockets);
    const deadline = setTimeout(() => socket.destroy(), REQUEST_DEADLINE_MS);
    let buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      let request: FastRequest | null;
      try {
        if (buffer.length > MAX_FAST_REQUEST) throw new Error("request too long");
        request = parseFastRequest(buffer);
      } catch (err) {
        clearTimeout(deadline);
        socket.off("data", onData);
        // the key is not known to be right: no proof (it would let the sender pass for this agent later)
        socket.end(encodeFastResponse("", SS_EXIT.BAD_REQUEST, "", `ss: ${(err as Error).message}\n`));
        return;
      }
      if (!request) return;
      clearTimeout(deadline);
      socket.off("data", onData);
      void this.answer(socket, request, caller);
    };
    socket.on("data", onData);
    socket.on("close", () => clearTimeout(deadline));
  }

  private async answer(socket: net.Socket, request: FastRequest, caller: IpcCaller): Promise<void> {
    let answer: FastAnswer;
    const trusted = this.keyMatches(request.key);
    if (!trusted) {
      answer = { code: SS_EXIT.FORBIDDEN, stdout: "", stderr: `${request.command}: not this agent's key\n` };
    } else {
      try {
        answer = await this.handle({ command: request.command, argv: request.argv }, caller);
      } catch (err) {
        answer = { code: SS_EXIT.INTERNAL, stdout: "", stderr: `${request.command}: ${(err as Error).message}\n` };
      }
    }
    if (!socket.destroyed)
      socket.end(encodeFastResponse(trusted ? this.proof : "", answer.code, answer.stdout, answer.stderr));
  }

  private keyMatches(given: string): boolean {
    const a = Buffer.from(given);
    const b = Buffer.from(this.key);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
