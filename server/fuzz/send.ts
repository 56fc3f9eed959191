import http from "node:http";
import net from "node:net";

/** What the fuzz suite allows any request before it counts as a hang: the bound. */
export const ANSWER_WITHIN_MS = 1000;
/**
 * The bound of a request that hashes a password: scrypt at N=2^17 (server/auth/passwords.ts) takes 0.4–0.8 s of a
 * core by itself on a two-core CI machine, so under a loaded test run such a request may pass 1 s without any hang.
 */
export const HASHING_ANSWER_WITHIN_MS = 3000;

export interface Answer {
  /** 0 when nothing came back in time (or the connection broke before a status line) */
  status: number;
  contentType: string;
  body: string;
  ms: number;
  /** why there is no status: "timeout" or the socket error */
  failure?: string;
}

interface Request {
  method: string;
  /** sent as is: the fuzz builds its own percent-encodings */
  path: string;
  /** the deadline; ANSWER_WITHIN_MS unless the request hashes a password */
  within?: number;
  headers?: Record<string, string>;
  body?: Buffer;
}

/**
 * One request on its own connection, with a deadline. An answer the server sends before it has read the whole
 * body (413 on an oversized one) still counts even when the write of the rest then fails.
 */
export function send(baseUrl: string, r: Request): Promise<Answer> {
  const started = performance.now();
  const u = new URL(baseUrl);
  return new Promise((resolve) => {
    let done = false;
    const finish = (a: Omit<Answer, "ms">) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ ...a, ms: Math.round(performance.now() - started) });
    };
    const req = http.request({
      host: u.hostname,
      port: u.port,
      method: r.method,
      path: r.path,
      // a GET's body is sent neither chunked nor with a length unless told: the server would read it as a request
      headers: { connection: "close", ...(r.body ? { "content-length": String(r.body.length) } : {}), ...r.headers },
      agent: false,
    });
    const timer = setTimeout(
      () => finish({ status: 0, contentType: "", body: "", failure: "timeout" }),
      r.within ?? ANSWER_WITHIN_MS,
    );
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      const end = () =>
        finish({
          status: res.statusCode ?? 0,
          contentType: String(res.headers["content-type"] ?? ""),
          body: Buffer.concat(chunks).toString("utf8"),
        });
      res.on("end", end);
      // the server may close right after a complete answer to a request whose body it stopped reading
      res.on("aborted", end);
      res.on("error", end);
    });
    req.on("error", (err) => {
      // the status line may already be in: then the response handler finishes
      setTimeout(() => finish({ status: 0, contentType: "", body: "", failure: err.message }), 50);
    });
    req.end(r.body);
  });
}

/** A request written byte for byte (targets and headers no client library would send); the status of the answer. */
export function sendRaw(port: number, request: Buffer): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve) => {
    let got = "";
    let done = false;
    const finish = (failure?: string) => {
      if (done) return;
      done = true;
      s.destroy();
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(got);
      const head = got.split("\r\n\r\n")[0] ?? "";
      resolve({
        status: status ? Number(status[1]) : 0,
        contentType: /\r\ncontent-type: *([^\r\n]*)/i.exec(head)?.[1] ?? "",
        body: got.slice(head.length + 4),
        ms: Math.round(performance.now() - started),
        failure: status ? undefined : (failure ?? "no status line"),
      });
    };
    const s = net.connect(port, "127.0.0.1", () => s.write(request));
    s.setTimeout(ANSWER_WITHIN_MS, () => finish("timeout"));
    s.on("data", (d) => {
      got += d.toString("latin1");
      // a kept-alive connection stays open after a complete answer: its length says when it is complete
      const end = got.indexOf("\r\n\r\n");
      const length = /\r\ncontent-length: *(\d+)/i.exec(got.slice(0, end));
      if (end >= 0 && length && Buffer.byteLength(got.slice(end + 4), "latin1") >= Number(length[1])) finish();
    });
    s.on("close", () => finish());
    s.on("error", (err) => finish(err.message));
  });
}
