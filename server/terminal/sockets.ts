import type { Logger } from "pino";
import type { z } from "zod";
import { TERMINAL_AGENT_REQUESTS, TERMINAL_UI_REQUESTS } from "../../protocol/terminal.js";
import type { AppContext } from "../context.js";
import { answer } from "../sockets/ack.js";
import { type TerminalAgent, type TerminalUser, terminalsOf } from "./hub.js";

type SocketLike = { on(event: string, listener: (...args: unknown[]) => void): unknown };

/** Every /ui watcher of a run gets its terminals' pushes through the run's room. */
export function terminalPushes(app: AppContext, toRoom: (room: string, event: string, msg: unknown) => void): void {
  terminalsOf(app).toRun = (runId, event, msg) => toRoom(`run:${runId}`, event, msg);
}

/**
 * The /ui requests of terminals. `who` re-checks the socket's credential on each request (a revoked one stops at
 * once) and says who asks; opening, typing and closing are the run's owner's or an admin's.
 */
export function answerTerminalUi(socket: SocketLike, app: AppContext, who: () => TerminalUser): void {
  const hub = terminalsOf(app);
  answer(socket, app.log, TERMINAL_UI_REQUESTS, "term:open", (req) => hub.open(who(), req));
  answer(socket, app.log, TERMINAL_UI_REQUESTS, "term:input", (req) => hub.input(who(), req));
  answer(socket, app.log, TERMINAL_UI_REQUESTS, "term:resize", (req) => hub.resize(who(), req));
  answer(socket, app.log, TERMINAL_UI_REQUESTS, "term:close", (req) => hub.close(who(), req));
  answer(socket, app.log, TERMINAL_UI_REQUESTS, "term:attach", (req) => {
    who();
    return hub.attach(req.runId, req.since);
  });
}

type AgentReq<K extends keyof typeof TERMINAL_AGENT_REQUESTS> = z.output<
  (typeof TERMINAL_AGENT_REQUESTS)[K]["request"]
>;

/**
 * An instance's agent connection: it runs the instance's terminals. Returns what to call when it hangs up. After the
 * run's end its terminals are closed, so what the agent still sends about them is ignored, not refused.
 */
export function answerTerminalAgent(
  socket: SocketLike & TerminalAgent,
  app: AppContext,
  runId: string,
  instance: string,
  log: Logger,
): () => void {
  const hub = terminalsOf(app);
  hub.agentConnected(runId, instance, socket);
  answer(socket, log, TERMINAL_AGENT_REQUESTS, "term:output", (req: AgentReq<"term:output">) =>
    hub.output(runId, instance, req),
  );
  answer(socket, log, TERMINAL_AGENT_REQUESTS, "term:exit", (req: AgentReq<"term:exit">) =>
    hub.exited(runId, instance, req),
  );
  return () => hub.agentDisconnected(runId, instance, socket);
}
