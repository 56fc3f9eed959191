import type { DockerOptions } from "dockerode";

/** A Docker Engine API endpoint (Podman's compatible socket too): a unix socket, or TCP with TLS client certificates. */
export type DockerEngine =
  | { socketPath: string }
  | {
      host: string;
      port: number;
      /** PEM: the CA that signed the engine's certificate, and this server's client certificate and key */
      ca: string;
      cert: string;
      key: string;
    };

export function engineOptions(e: DockerEngine): DockerOptions {
  if ("socketPath" in e) return { socketPath: e.socketPath };
  return { protocol: "https", host: e.host, port: e.port, ca: e.ca, cert: e.cert, key: e.key };
}
