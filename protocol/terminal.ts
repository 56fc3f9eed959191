import { z } from "zod";
import { TERMINAL_LIMITS } from "./limits";
import { InstanceName } from "./run";
import type { RequestDef } from "./socket-catalog";

/**
 * Shared terminals: the run's owner or an admin opens a shell in an instance (a pty the instance's agent starts
 * inside its machine, with slipstream.setenv sourced); every watcher of the run sees its output live, read-only.
 * A terminal has one size, the opener's (like tmux). Output chunks are numbered per session so a watcher that
 * reconnects asks for what it missed (`term:attach` with `since`).
 */
export const TerminalId = z
  .string()
  .regex(/^term-[A-Za-z0-9_-]{1,40}$/, "must be term-<id>")
  .max(45);
const RunId = z.string().min(1).max(100);
export const TerminalRows = z.number().int().min(TERMINAL_LIMITS.minRows).max(TERMINAL_LIMITS.maxRows);
export const TerminalCols = z.number().int().min(TERMINAL_LIMITS.minCols).max(TERMINAL_LIMITS.maxCols);
const InputData = z.string().min(1).max(TERMINAL_LIMITS.inputBytes);

/** A terminal as every watcher sees it. */
export const TerminalSession = z.object({
  runId: z.string(),
  id: TerminalId,
  instance: z.string(),
  /** who opened it (the only one who may resize it) */
  openedBy: z.string(),
  rows: z.number().int(),
  cols: z.number().int(),
  openedAt: z.string(),
  /** the last output chunk's number (0: none yet) */
  lastSeq: z.number().int().min(0),
  /** who typed last, for the "typing" line every watcher sees */
  typing: z.string().nullable(),
  open: z.boolean(),
  /** why it closed (exit status, idle timeout, closed by someone, the instance went away) */
  closedReason: z.string().nullable(),
  /** the report the recording was stored as, once stored */
  report: z.string().nullable(),
});
export type TerminalSession = z.infer<typeof TerminalSession>;

export const TerminalOutput = z.object({
  runId: z.string(),
  session: TerminalId,
  seq: z.number().int().min(1),
  data: z.string(),
});
export type TerminalOutput = z.infer<typeof TerminalOutput>;

/** Pushed on /ui to every watcher of the run (the run's room). */
export const TERMINAL_UI_PUSHES = {
  /** a terminal opened, changed (size, who types) or closed */
  "term:session": TerminalSession,
  /** output of a terminal, in seq order */
  "term:output": TerminalOutput,
} satisfies Record<string, z.ZodType>;

/** What a browser asks on /ui about terminals. Opening, typing, resizing and closing: the run's owner or an admin. */
export const TERMINAL_UI_REQUESTS = {
  "term:open": {
    summary: "Opens a shell in an instance (owner or admin); its size is the opener's",
    request: z.strictObject({ runId: RunId, instance: InstanceName, rows: TerminalRows, cols: TerminalCols }),
    response: TerminalSession,
  },
  "term:input": {
    summary: "Keys typed into a terminal (owner or admin)",
    request: z.strictObject({ runId: RunId, session: TerminalId, data: InputData }),
    response: z.null(),
  },
  "term:resize": {
    summary: "Changes a terminal's one size (its opener)",
    request: z.strictObject({ runId: RunId, session: TerminalId, rows: TerminalRows, cols: TerminalCols }),
    response: TerminalSession,
  },
  "term:close": {
    summary: "Ends a terminal (owner or admin); its recording is stored as a report of the instance",
    request: z.strictObject({ runId: RunId, session: TerminalId }),
    response: z.null(),
  },
  "term:attach": {
    summary:
      "The run's terminals and, for each, the output after `since[session]` still kept (a watcher arriving or " +
      "reconnecting); live output follows as `term:output` once subscribed to the run",
    request: z.strictObject({
      runId: RunId,
      since: z.record(TerminalId, z.number().int().min(0)).default({}),
    }),
    response: z.object({ sessions: z.array(TerminalSession), output: z.array(TerminalOutput) }),
  },
} satisfies Record<string, RequestDef>;

/** Pushed to the instance's agent. */
export const TERMINAL_AGENT_PUSHES = {
  "term:open": z.object({ session: TerminalId, rows: TerminalRows, cols: TerminalCols }),
  "term:input": z.object({ session: TerminalId, data: InputData }),
  "term:resize": z.object({ session: TerminalId, rows: TerminalRows, cols: TerminalCols }),
  "term:close": z.object({ session: TerminalId }),
} satisfies Record<string, z.ZodType>;

const requestId = z.string().min(1).max(100).optional();

/** What the agent sends about its terminals. */
export const TERMINAL_AGENT_REQUESTS = {
  "term:output": {
    summary: "Output of a terminal the agent runs, numbered per session so a chunk re-sent is stored once",
    request: z.strictObject({
      requestId,
      session: TerminalId,
      chunk: z.number().int().positive(),
      data: z.string().max(TERMINAL_LIMITS.outputChunkBytes),
    }),
    response: z.object({ seq: z.number().int().nullable() }),
  },
  "term:exit": {
    summary: "A terminal's shell ended (or could not start)",
    request: z.strictObject({
      requestId,
      session: TerminalId,
      code: z.number().int().nullable(),
      message: z.string().max(1000).default(""),
    }),
    response: z.null(),
  },
} satisfies Record<string, RequestDef>;
