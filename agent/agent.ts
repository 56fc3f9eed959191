import type net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { Ack } from "../protocol/ack.js";
import type { AgentAssignment, AgentRunState } from "../protocol/agent-socket.js";
import { describeZodError } from "../protocol/errors.js";
import type { RunState } from "../protocol/run.js";
import { AbortReceipts } from "./abort-receipts.js";
import type { AgentConfig } from "./config.js";
import { type FastAnswer, FastIpcServer } from "./fast-ipc-server.js";
import { IpcRequest } from "./ipc-protocol.js";
import { type IpcCaller, IpcServer } from "./ipc-server.js";
import { LogSink } from "./log-sink.js";
import { Machine, type MachineLaunch } from "./machine.js";
import { type RecipeContext, runExecuting, runPrescale, sendReports } from "./recipes.js";
import { ScriptRunner } from "./script-runner.js";
import { type AgentEvent, ServerLink } from "./server-link.js";
import { executeSsCommand } from "./ss-client.js";
import { AgentTerminals } from "./terminal.js";
import { prepareWorkspace, scriptEnv, type Workspace } from "./workspace.js";

/** States in which the agent has nothing left to do: it stops (the connector also kills its processes). */
const END_STATES = new Set<RunState>(["Finalizing", "Done", "Aborted", "Cancelled"]);
/** How long a stopping agent waits for unacknowledged log chunks and completions. */
const DRAIN_MS = 2000;
/** After an abort, how long blocked ss-* commands get to exit with code 8 before their script is signalled. */
const ABORT_SETTLE_MS = 1000;
const ABORT_AFTER_CLOSE_MS = 300;

/** What differs when many agents share one process (agent/host.ts) rather than each having its own. */
export interface AgentHooks {
  /** the agent's own output (default: stdout) */
  out?: (text: string) => void;
  /** the agent stopped for good (default: the process exits with `code`) */
  exit?: (code: number) => void;
  /** how its machine is started and entered (default: as an agent inside its instance's sandbox does) */
  machine?: MachineLaunch;
  /** the loopback listener of the bash wrappers, made where the recipes' loopback is (their own network) */
  fastListener?: () => Promise<net.Server | null>;
}

interface Inflight {
  abortable: boolean;
  caller: IpcCaller;
}

/** The node agent: drives one instance through the run states the server pushes. */
export class Agent {
  private run: AgentRunState | null = null;
  private assignment: AgentAssignment | null = null;
  /** the state being visited and whether its work was started (at most once per visit) */
  private visit: { state: RunState; started: boolean } | null = null;
  private chain: Promise<void> = Promise.resolve();
  private leaving = false;
  private stopping = false;
  private readonly inflight = new Map<number, Inflight>();
  private readonly link: ServerLink;
  private readonly log: LogSink;
  private readonly runner: ScriptRunner;
  private readonly ipc: IpcServer;
  private readonly fastIpc: FastIpcServer;
  private machine: Machine | null = null;
  private readonly receipts = new AbortReceipts(
    (body) => this.link.request("abort:receipt", body),
    (line) => this.log.agent(line),
  );
  private readonly terminals: AgentTerminals;

  private constructor(
    private readonly cfg: AgentConfig,
    private readonly ws: Workspace,
    private readonly hooks: AgentHooks,
  ) {
    const out = hooks.out ?? ((text: string) => process.stdout.write(text));
    this.link = new ServerLink(
      cfg.serviceUrl,
      cfg.token,
      {
        hello: (run, assignment) => {
          this.assignment = assignment;
          if (assignment.logBytes) this.log.setLimit(assignment.logBytes);
          if (assignment.logChunk) this.log.resumeAfter(assignment.logChunk);
          this.apply(run);
        },
        runState: (run) => this.apply(run),
        fatal: (message) => {
          this.log.agent(`server refused this agent: ${message}`);
          void this.shutdown(1);
        },
        log: (line) => this.log.agent(line),
        debug: (line) => out(`${new Date().toISOString()} ${line}\n`),
      },
      cfg.serverWaitMs,
      cfg.serverCertSha256,
    );
    this.log = new LogSink(ws.log, (chunk) => this.link.request("log:append", chunk), undefined, out);
    this.runner = new ScriptRunner(
      ws.targets,
      ws.root,
      () => scriptEnv(cfg, ws),
      this.log,
      cfg.killGraceMs,
      () => (this.run?.abort ?? null) !== null,
    );
    this.runner.view = ws.view;
    this.ipc = new IpcServer(ws.socket, (req, caller) => this.forward(req, caller));
    this.fastIpc = new FastIpcServer(ws.endpoint, (req, caller) => this.runCommand(req.command, req.argv, caller));
    this.terminals = new AgentTerminals(this.link, {
      root: ws.root,
      setenv: ws.setenv,
      env: () => scriptEnv(cfg, ws),
      wrap: () => this.runner.wrap,
      log: (line) => this.log.agent(line),
      view: ws.view,
      // a shell (the recipes' uid) notes its pty where it may write, lib/ being the agent's
      ttyDir: hooks.machine?.asRoot ? ws.tmp : undefined,
    });
  }

  /** Starts an agent; without `hooks` it owns its process (signals end it, its end ends the process). */
  static async start(cfg: AgentConfig, hooks?: AgentHooks): Promise<Agent> {
    // files a recipe finds in its workspace are as on any machine (the server's umask keeps its data private)
    if (cfg.sandbox) process.umask(0o022);
    const ws = await prepareWorkspace(cfg);
    const agent = new Agent(cfg, ws, hooks ?? {});
    if (cfg.sandbox) {
      const machine = await Machine.start(
        cfg.sandbox,
        ws.view(ws.root),
        (why) => agent.machineGone(why),
        hooks?.machine,
      );
      agent.machine = machine;
      agent.runner.wrap = (argv) => machine.wrap(argv);
    }
    // hosted (one process, many agents): the umask stays the process's, 022 (set above: hosted agents are sandboxed)
    await agent.ipc.listen({ maskWhileBinding: !hooks });
    await ws.own(ws.socket);
    // without loopback (a bare network namespace) the wrappers still work, through Node and the unix socket
    await agent.fastIpc
      .listen(hooks?.fastListener)
      .then(() => ws.own(ws.endpoint))
      .catch((err: Error) => agent.log.agent(`ss-* fast path unavailable, commands start Node: ${err.message}`));
    agent.log.agent(`Agent of ${cfg.instance} (run ${cfg.runId}) started in ${ws.root}, pid ${process.pid}`);
    if (!hooks) {
      for (const signal of ["SIGTERM", "SIGINT"] as const) {
        process.on(signal, () => agent.stop(`received ${signal}`));
      }
    }
    agent.link.connect();
    return agent;
  }

  /** A graceful stop (a signal, or the host told to stop this instance): recipes ended, output sent. */
  stop(why: string): Promise<void> {
    this.log.agent(why);
    return this.shutdown(0);
  }

  /** An ss-* command's request goes to the server as the event it names. */
  private async forward(req: IpcRequest, caller: IpcCaller): Promise<Ack<unknown>> {
    const abortable =
      req.op === "param:get-all" || ((req.op === "param:get" || req.op === "param:set") && !req.req.ignoreAbort);
    const { id, done } = this.link.start(req.op as AgentEvent, req.req as never, { fromCommand: true });
    this.inflight.set(id, { abortable, caller });
    // a command killed while waiting: forget its request so it is not re-sent after a reconnect, and have the
    // server drop its wait
    void caller.closed.then(() =>
      this.link.abandon(id, { ok: false, error: { code: "UNAVAILABLE", message: "command exited" } }),
    );
    try {
      return await done;
    } finally {
      this.inflight.delete(id);
    }
  }

  /** A whole ss-* command line from a bash wrapper, run here as the Node client would run it. */
  private async runCommand(command: string, argv: string[], caller: IpcCaller): Promise<FastAnswer> {
    let stdout = "";
    let stderr = "";
    const code = await executeSsCommand(
      command,
      argv,
      this.cfg.instance,
      async (request) => {
        const parsed = IpcRequest.safeParse({ id: 0, ...request });
        if (!parsed.success) {
          return { ok: false, error: { code: "BAD_REQUEST", message: describeZodError(parsed.error) }, id: 0 };
        }
        return { ...(await this.forward(parsed.data, caller)), id: 0 };
      },
      {
        out: (t) => {
          stdout += t;
        },
        err: (t) => {
          stderr += t;
        },
      },
    );
    return { code, stdout, stderr };
  }

  private apply(run: AgentRunState): void {
    if (this.run && run.seq < this.run.seq) return;
    const abortRaised = run.abort !== null && (this.run?.abort ?? null) === null;
    this.run = run;
    if (this.stopping) return;
    if (abortRaised) {
      this.receipts.begin(run.seq, this.runner.watchAbortable());
      void this.onAbort(run.abort as string);
    }
    if (END_STATES.has(run.state)) {
      this.log.agent(`Run is ${run.state}: stopping`);
      void this.shutdown(0);
      return;
    }
    if (!run.live) {
      if (this.leaving) return;
      this.leaving = true;
      this.log.agent("Instance removed from the run: sending its report, then stopping");
      this.runner.killAbortable();
      this.enqueue(async () => {
        await runPrescale(this.context(), run, async (key, value) => {
          const ack = await this.link.request("param:set", { key, value, ignoreAbort: true });
          if (!ack.ok) this.log.agent(`setting ${key} refused: ${ack.error.code}: ${ack.error.message}`);
        });
        await sendReports(this.context());
        await this.shutdown(0);
      });
      return;
    }
    if (this.leaving) return;
    if (this.visit?.state !== run.state) this.visit = { state: run.state, started: false };
    if (this.visit.started) return;
    this.visit.started = true;
    if (run.completed) return;
    const state = run.state;
    this.enqueue(() => this.work(state));
  }

  private enqueue(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).catch((err: Error) => this.log.agent(`agent error: ${err.stack ?? err.message}`));
  }

  private async work(state: RunState): Promise<void> {
    if (this.stopping) return;
    const ctx = this.context();
    try {
      if (state === "Executing") await runExecuting(ctx, this.run as AgentRunState);
      else if (state === "SendingReports") this.receipts.reportDone(await sendReports(ctx));
      else if (state === "Provisioning") this.log.agent("Workspace ready");
      else if (state !== "Ready") return;
    } catch (err) {
      this.log.agent(`agent error in ${state}: ${(err as Error).stack ?? err}`);
      if (state === "Executing") await ctx.abortRun(`Agent error on '${this.cfg.instance}': ${(err as Error).message}`);
    }
    if (this.stopping) return;
    // the state's output reaches the server before its completion moves the run on
    this.log.flushAll();
    const ack = await this.link.request("state:complete", { state });
    // CONFLICT: the server already moved on (a completion re-sent after a reconnect)
    if (!ack.ok && ack.error.code !== "CONFLICT") {
      this.log.agent(`completing ${state} refused: ${ack.error.code}: ${ack.error.message}`);
    }
  }

  private context(): RecipeContext {
    return {
      cfg: this.cfg,
      ws: this.ws,
      runner: this.runner,
      log: this.log,
      assignment: this.assignment ?? { node: this.cfg.node, index: this.cfg.index, targets: {}, cloud: this.cfg.cloud },
      abort: () => this.run?.abort ?? null,
      abortRun: async (message) => {
        const ack = await this.link.request("run:abort", { message });
        if (!ack.ok) this.log.agent(`abort refused: ${ack.error.code}: ${ack.error.message}`);
      },
    };
  }

  /**
   * Blocked ss-* commands fail with ABORTED (exit 8) at once; their scripts get a moment to stop on
   * their own (`sh -e`) before SIGTERM reaches every recipe process group.
   */
  private async onAbort(message: string): Promise<void> {
    this.log.agent(`Run aborted: ${message}`);
    const callers: Promise<void>[] = [];
    for (const [id, f] of this.inflight) {
      if (!f.abortable) continue;
      this.link.settle(id, { ok: false, error: { code: "ABORTED", message: `run aborted: ${message}` } });
      callers.push(f.caller.closed);
    }
    if (!this.runner.hasAbortable) return;
    await Promise.race([Promise.all(callers), sleep(ABORT_SETTLE_MS)]);
    // a command closes its socket just before it exits: leave its script time to act on the exit code
    await sleep(ABORT_AFTER_CLOSE_MS);
    const count = this.runner.killAbortable();
    if (count) this.log.agent(`Abort: SIGTERM sent to ${count} running recipe process group(s)`);
  }

  /** The machine's first process ended (a recipe killed it): nothing can run any more on this instance. */
  private machineGone(why: string): void {
    // the run is ending and the agent stopping: the machine goes with it, that is no failure
    if (this.stopping || (this.run !== null && END_STATES.has(this.run.state))) return;
    this.log.agent(`The machine of ${this.cfg.instance} stopped: ${why}`);
    void this.context().abortRun(`The machine of '${this.cfg.instance}' stopped: ${why}`);
  }

  private async shutdown(code: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.receipts.stopping();
    this.runner.killAll();
    this.terminals.closeAll();
    this.machine?.stop();
    await this.ipc.close().catch(() => undefined);
    await this.fastIpc.close().catch(() => undefined);
    await this.ws.dispose().catch(() => undefined);
    this.log.flushAll();
    await this.link.drained(DRAIN_MS);
    await this.log.close();
    this.link.close();
    (this.hooks.exit ?? ((c: number) => process.exit(c)))(code);
  }
}
