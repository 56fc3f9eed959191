import type { Namespace, Server, Socket } from "socket.io";
import type { z } from "zod";
import type { InstanceTable } from "../../core/instance-table.js";
import { SlipError } from "../../protocol/errors.js";
import {
  AGENT_REQUESTS,
  AgentAuth,
  type AgentClientToServer,
  type AgentRequestName,
  type AgentRunState,
  type AgentServerToClient,
  describeZodError,
  PROTOCOL_VERSION,
} from "../../protocol/index.js";
import type { RequestAnswer } from "../../protocol/socket-catalog.js";
import type { AppContext } from "../context.js";
import { timeCommand } from "../ops/hot-metrics.js";
import { recordAbortReceipt } from "../runs/abort-receipts.js";
import type { RunTx } from "../runs/run-tx.js";
import type { RunRuntime } from "../runs/runtime.js";
import { scaleRun } from "../runs/scale.js";
import type { AnswerSlot, RunService } from "../runs/service.js";
import { answerTerminalAgent } from "../terminal/sockets.js";
import { answer } from "./ack.js";

interface AgentData {
  runId: string;
  instance: string;
}
type AgentSocket = Socket<AgentClientToServer, AgentServerToClient, Record<string, never>, AgentData>;

export function agentState(rt: RunRuntime, instance: string): AgentRunState {
  const info = rt.snapshot.context.instances.get(instance);
  return {
    seq: rt.lastSeq,
    runId: rt.id,
    instance,
    state: rt.state,
    abort: rt.abort,
    recoveryMode: rt.recoveryMode,
    completed: info?.completed ?? false,
    live: info?.live ?? false,
    scaling: rt.snapshot.context.scaling,
  };
}

/** How many answers to non-idempotent requests each instance keeps for re-sends. */
export const REMEMBERED_ANSWERS = 256;

/**
 * The answers (or refusals) to one instance's last requests that act (set, abort, complete, scale), by request id:
 * a request re-sent after a reconnect because its ack was lost gets the first answer, and nothing is done twice.
 * A re-send that arrives while the first is still being handled shares its outcome. Bounded, oldest out first.
 * Answers that acted are also in SQLite (request_answers, stored with the effect), for re-sends after a restart
 * or past this bound; a refusal changed nothing, so after a restart it is simply decided again.
 */
class Answers {
  private readonly byId = new Map<string, Promise<unknown>>();
  /**
   * Whether every stored answer of the instance was answered through this object: then an id that is neither in
   * memory nor among those evicted from it was never answered, and SQLite is not asked (a read transaction, two file
   * locks, on every ss-set). Not so once answers were stored before this object was made (by a server since killed),
   * or once one failed after it may have been stored.
   */
  private complete: boolean;
  /**
   * The ids that left memory past the bound, as the bits of a small filter made at the first eviction: a clear bit
   * means never answered here; a set one (that id, or another with the same bit) asks SQLite. Fixed size, so as
   * evictions add up it sets more bits and asks SQLite more often, as every request once did.
   */
  private evicted: Uint32Array | null = null;

  constructor(
    private readonly instance: string,
    private readonly stored: (slot: AnswerSlot) => { answer: unknown } | null,
    storedBefore: boolean,
  ) {
    this.complete = !storedBefore;
  }

  private forget(id: string): void {
    this.byId.delete(id);
    this.complete = false;
  }

  private evict(id: string): void {
    this.byId.delete(id);
    this.evicted ??= new Uint32Array(EVICTED_BITS / 32);
    const b = bitOf(id);
    this.evicted[b >>> 5] |= 1 << (b & 31);
  }

  private mayBeStored(id: string): boolean {
    if (!this.complete) return true;
    if (!this.evicted) return false;
    const b = bitOf(id);
    return (this.evicted[b >>> 5] & (1 << (b & 31))) !== 0;
  }

  once<T>(
    event: string,
    requestId: string | undefined,
    fn: (slot: AnswerSlot | null) => Promise<T> | T,
  ): Promise<T> | T {
    if (requestId === undefined) return fn(null);
    const id = `${event} ${requestId}`;
    const known = this.byId.get(id);
    if (known) return known as Promise<T>;
    const slot = { instance: this.instance, request: id };
    let answer: Promise<T>;
    try {
      const before = this.mayBeStored(id) ? this.stored(slot) : null;
      // at once, as without an id: what the request does keeps its place among the socket's other messages
      answer = Promise.resolve(before ? (before.answer as T) : fn(slot));
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.catch((err: unknown) => {
      // a refusal is answered through whoever awaits it; one for want of storage is not the request's answer: the
      // agent keeps the request and re-sends it with the same id until it is stored
      if (!(err instanceof SlipError) || err.code === "STORAGE_FULL" || err.code === "UNAVAILABLE") {
        this.forget(id);
      }
    });
    this.byId.set(id, answer);
    if (this.byId.size > REMEMBERED_ANSWERS) this.evict(this.byId.keys().next().value as string);
    return answer;
  }
}

/** Bits of an instance's filter of evicted request ids (4 KiB, made only once an instance passes the bound). */
const EVICTED_BITS = 32_768;

/** FNV-1a of the id, to a bit of the filter. */
function bitOf(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h >>> 0) % EVICTED_BITS;
}

/** Per run (gone with its runtime) and instance. */
const answersOf = new WeakMap<RunRuntime, Map<string, Answers>>();
function answers(rt: RunRuntime, instance: string, runs: RunService): Answers {
  let perRun = answersOf.get(rt);
  if (!perRun) {
    perRun = new Map();
    answersOf.set(rt, perRun);
  }
  let a = perRun.get(instance);
  if (!a) {
    // answers stored before this runtime was made (by a server since killed) are looked up; a new run has none
    a = new Answers(instance, (slot) => runs.storedAnswer(rt.id, slot), rt.answeredBefore.has(instance));
    perRun.set(instance, a);
  }
  return a;
}

/** The answer to node:add / node:remove, from the scale event of the transaction (what scaleRun returns). */
function scaledNames(field: "added" | "removed") {
  return (tx: RunTx) => {
    const scale = tx.events.find((e) => e.body.type === "scale")?.body as
      | { added: string[]; removed: string[] }
      | undefined;
    return { [field]: scale ? [...scale.added, ...scale.removed] : [] };
  };
}

/**
 * Closes an agent's connection after what was emitted on it: on the next turn of the event loop, so the answers to
 * its requests that the run's end settles (pending waits refused "run ended") go out first; the DISCONNECT packet is
 * queued behind them, and engine.io waits for its write buffer to drain before closing the transport.
 */
function endConnection(socket: AgentSocket): void {
  setImmediate(() => socket.disconnect(true));
}

/**
 * An agent's state as it acts on it (everything but the seq, which moves with every commit of the run): the run's
 * part, the same for all its agents (`runView`, made once per push), and the instance's own two flags.
 */
function stateView(runPart: string, rt: RunRuntime, instance: string): string {
  const info = rt.snapshot.context.instances.get(instance);
  return `${info?.completed ? 1 : 0}${info?.live ? 1 : 0}${runPart}`;
}

function* changedNames(now: InstanceTable, before: InstanceTable): IterableIterator<string> {
  for (const [name] of now.changedSince(before)) yield name;
}

function runView(rt: RunRuntime): string {
  return JSON.stringify([rt.state, rt.abort, rt.recoveryMode, rt.snapshot.context.scaling]);
}

/**
 * The `/agent` namespace: one connection per node instance, authenticated by its own token. A token expires when
 * its run ends: once the run is Done, Aborted or Cancelled its agents get that last run:state, pending waits are
 * answered CONFLICT "run ended", then the sockets are disconnected; a request that still arrives before the hang-up is
 * refused UNAUTHORIZED, and a reconnect is refused by the token check above.
 */
export function attachAgentNamespace(io: Server, app: AppContext) {
  const nsp: Namespace<AgentClientToServer, AgentServerToClient, Record<string, never>, AgentData> = io.of(
    "/agent",
  ) as unknown as Namespace<AgentClientToServer, AgentServerToClient, Record<string, never>, AgentData>;
  const connected = new Map<string, Map<string, AgentSocket>>();
  /** the last state each agent was sent, without its seq */
  const pushed = new WeakMap<AgentSocket, string>();

  nsp.use((socket, next) => {
    const raw = socket.handshake.auth as { token?: unknown } | undefined;
    // no credentials at all is not a malformed request: it is an unauthenticated one
    if (raw?.token === undefined) return next(new Error("UNAUTHORIZED: auth: token: an agent token is required"));
    const auth = AgentAuth.safeParse(raw);
    if (!auth.success) return next(new Error(`BAD_REQUEST: auth: ${describeZodError(auth.error)}`));
    if (auth.data.protocolVersion !== PROTOCOL_VERSION) {
      return next(
        new Error(`CONFLICT: agent protocol ${auth.data.protocolVersion}, server speaks ${PROTOCOL_VERSION}`),
      );
    }
    const agent = app.agentByToken(auth.data.token);
    if (!agent) return next(new Error("UNAUTHORIZED: agent token unknown or its run has ended"));
    socket.data = { runId: agent.rt.id, instance: agent.instance };
    next();
  });

  nsp.on("connection", (socket: AgentSocket) => {
    const { runId, instance } = socket.data;
    const { runs, log } = app;
    const rt = runs.get(runId);
    const actor = `node:${instance}`;
    const done = answers(rt, instance, runs);
    const owner = (requestId: string | undefined) => ({
      connection: socket.id,
      request: requestId === undefined ? undefined : `${instance} ${requestId}`,
      instance,
    });
    type AgentAnswer<K extends AgentRequestName> = RequestAnswer<(typeof AGENT_REQUESTS)[K]>;
    /** every handler: refused once the run has ended, the token with it */
    const handle = <K extends AgentRequestName>(
      name: K,
      fn: (req: z.output<(typeof AGENT_REQUESTS)[K]["request"]>) => Promise<AgentAnswer<K>> | AgentAnswer<K>,
    ) =>
      answer(socket, log, AGENT_REQUESTS, name, (req) => {
        if (rt.terminal) {
          throw new SlipError("UNAUTHORIZED", `agent token expired: run ${rt.id} has ended ${rt.state}`);
        }
        return timeCommand(name, () => fn(req));
      });

    const spec = rt.spec.nodes.find((n) => n.name === rt.instances.get(instance)?.node)!;
    const hello = agentState(rt, instance);
    pushed.set(socket, stateView(runView(rt), rt, instance));
    socket.emit("agent:hello", {
      run: hello,
      assignment: {
        node: spec.name,
        index: rt.instances.get(instance)!.idx,
        targets: spec.image.targets as Record<string, string | string[]>,
        cloud: spec.cloud,
        logBytes: app.settings.limits.logBytesPerInstance,
        logChunk: rt.instances.get(instance)!.logChunk,
      },
    });
    if (rt.terminal) {
      // the run ended between the handshake and now: the agent gets its end state (above) and nothing more
      endConnection(socket);
      return;
    }
    const perRun = connected.get(runId) ?? new Map();
    perRun.get(instance)?.disconnect(true); // a newer connection of the same agent replaces the old one
    perRun.set(instance, socket);
    connected.set(runId, perRun);
    runs.instanceUp(rt, instance);
    app.liveness.connected(rt, instance);
    const terminalsGone = answerTerminalAgent(socket, app, runId, instance, log);

    handle("param:get", async (req) => ({
      value: await runs.getParam(rt, req.key, { ...req, owner: owner(req.requestId) }, actor),
    }));
    handle("param:set", (req) =>
      done.once("param:set", req.requestId, async (slot) => ({
        seq: await runs.setParamGrouped(rt, req.key, req.value, req, actor, slot),
      })),
    );
    handle("param:get-all", async (req) => ({
      values: await runs.getAll(rt, req.node, req.name, req.timeout, actor, owner(req.requestId)),
    }));
    handle("param:cancel", (req) => ({
      cancelled: rt.waiters.cancel(owner(req.wait).request!),
    }));
    handle("abort:receipt", (req) => recordAbortReceipt(runs, rt, instance, req));
    handle("run:abort", (req) =>
      done.once("run:abort", req.requestId, (slot) => {
        runs.withAnswer(
          slot,
          (tx) => ({ abort: tx.snapshot.context.abort }),
          () => {
            if (req.cancel) {
              if (rt.abort !== null || rt.recoveryMode) runs.resetAbort(rt, actor);
            } else {
              runs.abort(rt, req.message || `Aborted by ${instance}`, actor, instance);
            }
          },
        );
        return { abort: rt.abort };
      }),
    );
    handle("state:complete", (req) =>
      done.once("state:complete", req.requestId, (slot) => {
        runs.withAnswer(
          slot,
          (tx) => ({ state: tx.state }),
          () => runs.complete(rt, instance, req.state),
        );
        return { state: rt.state };
      }),
    );
    handle("log:append", (req) => ({ seq: runs.appendLog(rt, instance, req) }));
    handle("node:add", (req) =>
      done.once("node:add", req.requestId, (slot) => {
        const added = runs.withAnswer(slot, scaledNames("added"), () =>
          scaleRun(runs, rt, req.node, req.count, null, actor),
        );
        app.deadlines.arm();
        return { added };
      }),
    );
    handle("node:remove", (req) =>
      done.once("node:remove", req.requestId, (slot) => {
        const removed = runs.withAnswer(slot, scaledNames("removed"), () =>
          scaleRun(runs, rt, req.node, null, req.ids, actor),
        );
        app.deadlines.arm();
        return { removed };
      }),
    );

    socket.on("disconnect", (reason) => {
      const current = perRun.get(instance) === socket;
      if (current) perRun.delete(instance);
      terminalsGone();
      // the server's own hang-ups (a newer connection, the run's end, shutdown) are not the agent going away (R19)
      if (current && reason !== "server namespace disconnect" && reason !== "server shutting down") {
        app.liveness.disconnected(rt, instance, reason);
      }
      // its pending waits have no one to answer: the agent re-sends those still wanted on its next connection
      rt.waiters.disconnected(socket.id);
      if (!rt.snapshot.context.instances.get(instance)?.live && !rt.terminal) {
        app.effects.stop(rt, instance).catch((err) => log.error({ err }, "stopping removed instance"));
      }
    });
  });

  /** per run, what its last push compared: the run's part of the agents' views and the instances it saw */
  const lastPush = new Map<string, { runPart: string; instances: InstanceTable }>();
  const push = (runId: string) => {
    const perRun = connected.get(runId);
    if (!perRun) {
      lastPush.delete(runId);
      return;
    }
    const rt = app.runs.get(runId);
    // what is the same for all of the run's agents is made once per push
    const runPart = runView(rt);
    const instances = rt.snapshot.context.instances;
    const last = lastPush.get(runId);
    lastPush.set(runId, { runPart, instances });
    // with the run's part as it was, only agents whose instance changed since can have a new view: an agent's
    // commit (up, completed) then looks at one agent, not at all of them (O(instances²) over a launch)
    const names = last?.runPart === runPart ? changedNames(instances, last.instances) : perRun.keys();
    for (const instance of names) {
      const socket = perRun.get(instance);
      if (!socket) continue;
      // only what changed for this agent: a push to every agent on every commit is O(instances²) writes a state
      const view = stateView(runPart, rt, instance);
      if (pushed.get(socket) === view) continue;
      pushed.set(socket, view);
      socket.emit("run:state", agentState(rt, instance));
    }
    if (rt.terminal) {
      // the token ends with the run: hang up, after the final run:state written above (the agent stops on it)
      connected.delete(runId);
      lastPush.delete(runId);
      for (const socket of perRun.values()) endConnection(socket);
    }
  };
  app.bus.on("agent-state", push);
  // a transition to an end state need not change the context: push on state changes too
  app.bus.on("run-changed", (change) => push(change.runId));

  return {
    isConnected: (runId: string, instance: string) => connected.get(runId)?.has(instance) ?? false,
  };
}
