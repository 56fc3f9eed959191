import https from "node:https";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { normalizeFingerprint } from "../protocol/launch-env.js";

/**
 * An https agent that accepts exactly one server certificate, by its SHA-256 fingerprint, whoever signed it (a
 * self-signed one included) and whatever name it carries (agents reach the server by addresses the certificate may
 * not list: the local cloud's bridge, a NAT). The socket is handed to the request only after the check, so nothing
 * — the report upload's bearer token, the websocket upgrade — is ever written to another server. The handshake
 * itself proves that the peer holds the certificate's key.
 */
export function pinnedAgent(expected: string, onRefused?: (message: string) => void): https.Agent {
  const pin = normalizeFingerprint(expected);
  const agent = new https.Agent({ keepAlive: false });
  agent.createConnection = (options, callback) => {
    const socket = tls.connect({ ...(options as tls.ConnectionOptions), rejectUnauthorized: false });
    const fail = (err: Error) => {
      socket.destroy();
      callback?.(err, socket as Duplex);
    };
    socket.once("error", fail);
    socket.once("secureConnect", () => {
      socket.off("error", fail);
      const seen = socket.getPeerCertificate().fingerprint256;
      if (seen === pin) {
        callback?.(null, socket as Duplex);
        return;
      }
      const where = `${options.host ?? options.hostname ?? "?"}:${options.port ?? 443}`;
      const message = `the server at ${where} presented a TLS certificate with SHA-256 fingerprint ${seen ?? "(none)"}, not the pinned ${pin}: refusing to connect (another machine in the middle, or the server's certificate changed after this instance started)`;
      onRefused?.(message);
      fail(new Error(message));
    });
    return undefined;
  };
  return agent;
}
