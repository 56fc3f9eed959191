import type { IncomingMessage, ServerResponse } from "node:http";
import { HTTP_STATUS, SlipError } from "../../protocol/errors.js";
import { storageError } from "../storage.js";

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown): SlipError {
  const e =
    err instanceof SlipError
      ? err
      : err instanceof SyntaxError
        ? new SlipError("BAD_REQUEST", `body: invalid JSON: ${err.message}`)
        : (storageError(err) ?? new SlipError("INTERNAL", "internal server error"));
  if (!res.headersSent) {
    const req = res.req as IncomingMessage | undefined;
    // answered before the body was read (a 413, a refused upload): the rest of the body would be read as the next
    // request on a keep-alive connection, so this connection ends with the answer
    const announced =
      Number(req?.headers["content-length"] ?? 0) > 0 || req?.headers["transfer-encoding"] !== undefined;
    if (req && announced && !req.complete) {
      res.setHeader("connection", "close");
      res.once("finish", () => {
        // discard what the client still sends until it reads the answer and hangs up; then close anyway
        const socket = req.socket;
        req.resume();
        setTimeout(() => socket?.destroy(), 2000).unref();
      });
    }
    sendJson(res, HTTP_STATUS[e.code], { error: e.toJSON() });
  } else res.destroy();
  return e;
}

const MAX_JSON = 5 * 1024 * 1024;

/**
 * Whether a content-type header names JSON: its media type (before any parameter) is exactly `application/json`
 * or `application/<something>+json`. A substring match would take `text/plain; application/json`, a type a
 * browser sends cross-origin without a preflight.
 */
function isJsonContentType(header: string | undefined): boolean {
  const essence = (header ?? "").split(";")[0].trim().toLowerCase();
  return essence === "application/json" || /^application\/[a-z0-9!#$&^_.-]+\+json$/.test(essence);
}

/** Reads a JSON body (bounded); an empty body reads as `{}`. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = req.headers["content-type"];
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_JSON) throw new SlipError("PAYLOAD_TOO_LARGE", "body: larger than 5 MiB");
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  if (!isJsonContentType(type)) {
    throw new SlipError(
      "BAD_REQUEST",
      `content-type: must be application/json${type ? ` (got '${type.slice(0, 100)}')` : " (none given)"}`,
    );
  }
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

export function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (h?.startsWith("Bearer ")) return h.slice(7).trim();
  return undefined;
}
