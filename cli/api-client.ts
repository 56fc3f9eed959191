import fs from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import {
  type EndpointDef,
  type EndpointInput,
  type EndpointOutput,
  endpointUrl,
  type OptionalIfEmpty,
  parseAnswer,
} from "../protocol/endpoint.js";
import type { Connection } from "./config.js";
import { CliError, EXIT, exitForStatus } from "./errors.js";

/** OpenSSL's and Node's codes for a certificate this machine does not trust (or that names another host). */
const UNTRUSTED_CERT =
  /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID)$/;

/** What to say when a request did not reach the server. */
function unreachableMessage(url: string, err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? "";
  if (UNTRUSTED_CERT.test(code)) {
    return `the server at ${url} presented a TLS certificate this machine does not trust (${code}); if it is self-signed or from a private CA, point NODE_EXTRA_CA_CERTS at its PEM file`;
  }
  return `cannot reach the server at ${url} (${code || cause?.message || (err as Error).message}); is it running? (set SLIPSTREAM_URL or --url)`;
}

/** Thin REST client: bearer token, server errors become CliErrors carrying the server's message. */
export class ApiClient {
  constructor(readonly conn: Connection) {}

  get url(): string {
    return this.conn.url;
  }

  private async send(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.conn.token) headers.authorization = `Bearer ${this.conn.token}`;
    let res: Response;
    try {
      res = await fetch(`${this.conn.url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new CliError(EXIT.UNREACHABLE, unreachableMessage(this.conn.url, err));
    }
    if (!res.ok) throw await this.failure(res);
    return res;
  }

  private async failure(res: Response): Promise<CliError> {
    const text = await res.text().catch(() => "");
    let message = `${res.status} ${res.statusText}`;
    try {
      const parsed = JSON.parse(text) as { error?: { message?: string } };
      if (parsed.error?.message) message = parsed.error.message;
    } catch {
      if (text) message = `${message}: ${text.slice(0, 200)}`;
    }
    if (res.status === 401 && !this.conn.token && !this.conn.anonymous) {
      message = this.conn.storedFor
        ? `not signed in to ${this.conn.url} (the stored token is for ${this.conn.storedFor}); run slipstream login`
        : "not signed in: run slipstream login, or set SLIPSTREAM_TOKEN";
    }
    if (res.status >= 500) message = `server error at ${this.conn.url}: ${message}`;
    return new CliError(exitForStatus(res.status), message);
  }

  /** Calls a catalog endpoint: typed input, and the answer parsed with the endpoint's schema. */
  async call<E extends EndpointDef>(e: E, ...[input]: OptionalIfEmpty<EndpointInput<E>>): Promise<EndpointOutput<E>> {
    const given = (input ?? {}) as { params?: Record<string, string>; query?: unknown; body?: unknown };
    const body = e.body ? (given.body ?? {}) : e.method === "GET" || e.method === "DELETE" ? undefined : {};
    const res = await this.send(e.method, endpointUrl(e, given), body);
    return parseAnswer(e, await res.json());
  }

  /** Calls a catalog endpoint for its other representation (`?format=yaml`): the body as text. */
  async text<E extends EndpointDef>(e: E, input: EndpointInput<E>): Promise<string> {
    return (
      await this.send("GET", endpointUrl(e, input as { params?: Record<string, string>; query?: unknown }))
    ).text();
  }

  /** Streams a response body into a file. */
  async download<E extends EndpointDef>(e: E, input: EndpointInput<E>, file: string): Promise<void> {
    await this.pipeTo(e, input, fs.createWriteStream(file));
  }

  /** Streams a response body into a stream (stdout: `slipstream snapshot RUN > run.json`). */
  async pipeTo<E extends EndpointDef>(e: E, input: EndpointInput<E>, out: NodeJS.WritableStream): Promise<void> {
    const path = endpointUrl(e, input as { params?: Record<string, string> });
    const res = await this.send("GET", path);
    if (!res.body) throw new CliError(EXIT.UNREACHABLE, `empty response for ${path}`);
    await pipeline(Readable.fromWeb(res.body as WebReadableStream), out);
  }
}
