import { createWriteStream, type WriteStream } from "node:fs";
import { readdir, rm, rmdir, stat } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { describeZodError } from "../protocol/errors.js";
import {
  HOST_OWN_ENTRIES,
  HOST_SHARED_DIR,
  type HostInstance,
  HostRequest,
  type HostResponse,
  onlyHostEntries,
} from "../protocol/local-host.js";
import { Slots } from "../protocol/slots.js";
import { Agent } from "./agent.js";
import { readConfig } from "./config.js";
import { listenPrivately } from "./ipc-server.js";
import { SharedFiles } from "./shared-files.js";

/** With no instance left, the host waits this long for another (a scale adding one) before it ends. */
export const IDLE_EXIT_MS = 3000;
/** A stop that takes longer is answered anyway; the connector then kills what is left by the instance's cgroup. */
const STOP_DEADLINE_MS = 15_000;
const MAX_LINE = 256 * 1024;
/**
 * Instances started at once. A run's launch adds all of them together (500 adds at once were 500 bubblewraps and
 * loopback Nodes forking together: none finished within a minute); a few at a time keep the machine working.
 */
const PARALLEL_STARTS = 6;

interface Served {
  agent: Agent | null;
  /** settles once its agent ended (or failed to start) */
  ended: Promise<void>;
  out: WriteStream;
}

/**
 * A run's agent host on the local cloud: one Node process serving every instance of the run, each with its own
 * agent (server link and token, workspace, IPC sockets, log, recipes), each in its own machine, which the host starts
 * into the instance's uid, network and cgroups and every recipe enters after joining those cgroups. The connector adds
 * and stops instances over a unix socket; the host ends when it has served its last one.
 */
export class AgentHost {
  private readonly served = new Map<string, Served>();
  private readonly server: net.Server;
  private inode: number | null = null;
  private idle: ReturnType<typeof setTimeout> | null = null;
  private ending = false;
  private readonly starts = new Slots(PARALLEL_STARTS);
  /** in the run's directory (our cwd), beside the instances' workspaces: on their filesystem, so links can be made */
  private readonly sharedFiles = new SharedFiles(path.join(process.cwd(), HOST_SHARED_DIR));

  constructor(private readonly socketPath: string) {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  async listen(): Promise<void> {
    // before any agent: the umask may be changed while it is bound, no other file is being made
    this.inode = await listenPrivately(this.server, this.socketPath, true);
    this.armIdle();
  }

  /** Every instance stopped gracefully, then the host ends (SIGTERM, SIGINT). */
  async stopAll(why: string): Promise<void> {
    this.ending = true;
    await Promise.all([...this.served.keys()].map((i) => this.stopOne(i, why)));
    await this.end();
  }

  private accept(socket: net.Socket): void {
    // someone is talking to us: an instance may be on its way
    this.disarmIdle();
    socket.setEncoding("utf8");
    socket.on("error", () => undefined);
    let buffer = "";
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf("\n"); nl !== -1; nl = buffer.indexOf("\n")) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.trim()) void this.answer(socket, line);
      }
      if (buffer.length > MAX_LINE) socket.destroy();
    });
    socket.on("close", () => this.armIdle());
  }

  private async answer(socket: net.Socket, line: string): Promise<void> {
    let response: HostResponse;
    let id: number | null = null;
    let op: HostRequest["op"] | null = null;
    try {
      const raw = JSON.parse(line) as unknown;
      const parsed = HostRequest.safeParse(raw);
      if (!parsed.success) throw new Error(describeZodError(parsed.error));
      id = parsed.data.id;
      op = parsed.data.op;
      const req = parsed.data;
      if (this.ending) throw new Error("the host is ending");
      if (req.op === "add") await this.add(req.instance);
      else if (req.op === "stop") await this.stopOne(req.instance, "stopped by the local cloud");
      response = { id, ok: true, pid: process.pid, instances: [...this.served.keys()] };
    } catch (err) {
      response = { id, ok: false, error: (err as Error).message };
    }
    if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
    // the connector stopped the last instance: the host ends at once (the connector waits for it to be gone)
    if (response.ok && op === "stop" && this.served.size === 0) {
      await new Promise<void>((resolve) => (socket.writableLength ? socket.once("drain", resolve) : resolve()));
      await this.end();
    }
  }

  private async add(inst: HostInstance): Promise<void> {
    // started again under the same name (a server restart while it was starting): the first agent goes
    if (this.served.has(inst.instance)) await this.stopOne(inst.instance, "started again");
    const cfg = {
      ...readConfig(inst.env as NodeJS.ProcessEnv),
      hostWorkspace: inst.hostWorkspace,
      owner: inst.machine.uid ?? undefined,
      sharedFiles: this.sharedFiles,
    };
    cfg.machineServiceUrl = cfg.serviceUrl;
    cfg.serviceUrl = inst.linkUrl.replace(/\/+$/, "");
    const out = createWriteStream(path.join(inst.hostDir, "agent.out"), { flags: "a", mode: 0o600 });
    let ended!: () => void;
    const entry: Served = { agent: null, ended: new Promise((r) => (ended = r)), out };
    this.served.set(inst.instance, entry);
    const finish = () => {
      if (this.served.get(inst.instance) === entry) this.served.delete(inst.instance);
      out.end();
      ended();
      this.armIdle();
    };
    const release = await this.starts.take();
    try {
      entry.agent = await Agent.start(cfg, {
        out: (text) => out.write(text),
        exit: finish,
        machine: {
          prefix: inst.machine.prefix,
          source: inst.machine.source,
          pidFile: inst.machine.pidFile,
          asRoot: inst.machine.asRoot,
          cgroupProcs: inst.machine.cgroupProcs,
        },
        fastListener: inst.machine.fastIpc ? () => bridgeListener(inst.machine.fastIpc!) : undefined,
      });
    } catch (err) {
      out.write(`${new Date().toISOString()} agent of ${inst.instance} did not start: ${(err as Error).message}\n`);
      finish();
      throw err;
    } finally {
      release();
    }
  }

  private async stopOne(instance: string, why: string): Promise<void> {
    const entry = this.served.get(instance);
    if (!entry) return;
    void entry.agent?.stop(why);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([entry.ended, new Promise((r) => (timer = setTimeout(r, STOP_DEADLINE_MS)))]);
    clearTimeout(timer);
  }

  private armIdle(): void {
    if (this.served.size > 0 || this.ending || this.idle) return;
    this.idle = setTimeout(() => void this.end(), IDLE_EXIT_MS);
  }

  private disarmIdle(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
  }

  private async end(): Promise<void> {
    this.ending = true;
    // no connection is accepted once the host decided to end: an add still queued on the socket (sent while the host
    // was stalled past its idle time, e.g. stopped) is refused, and the connector starts the run's host anew instead
    // of hearing "the host is ending" and failing the instance
    this.server.close();
    // a newer host of the same run may listen on the path already: its socket stays
    const now = await stat(this.socketPath).catch(() => null);
    if (now && now.ino === this.inode) await rm(this.socketPath, { force: true });
    // the run's directory (our cwd) goes once no instance is kept in it: only our own output would be left
    const left = await readdir(process.cwd()).catch(() => null);
    if (left && onlyHostEntries(left)) {
      for (const f of HOST_OWN_ENTRIES) await rm(path.join(process.cwd(), f), { recursive: true, force: true });
      await rmdir(process.cwd()).catch(() => undefined);
    }
    process.exit(0);
  }
}

/**
 * The wrappers' listener of an instance with a network of its own (fast-ipc.ts): on the bridge's address, in the
 * host's network, so no process has to start inside the instance's; it answers the instance's own address only
 * (the endpoint's key is still what proves a caller), every other peer on the bridge is cut at once.
 */
function bridgeListener(at: { listen: string; from: string }): Promise<net.Server | null> {
  const server = net.createServer();
  server.on("connection", (socket) => {
    if (socket.remoteAddress !== at.from && socket.remoteAddress !== `::ffff:${at.from}`) socket.destroy();
  });
  return new Promise((resolve) => {
    server.once("error", () => resolve(null));
    server.listen(0, at.listen, () => resolve(server));
  });
}
