import path from "node:path";
import type { CloudView, DockerEngineBody } from "../../protocol/catalog/clouds.js";
import { createDockerConnector, type DockerConnector } from "../connectors/docker/connector.js";
import type { DockerEngine } from "../connectors/docker/engine.js";
import { runImages } from "../connectors/docker/run-images.js";
import type { AppContext } from "../context.js";
import type { Secrets } from "../secrets.js";

/** A docker cloud's engine as stored: the TLS client key sealed like every other credential. */
export type StoredDockerEngine =
  | { socketPath: string }
  | { host: string; port: number; ca: string; cert: string; clientKey: string };

/** `keptKey`: the sealed key stored before an update that gave none (the update checks there is one). */
export function sealDockerEngine(e: DockerEngineBody, secrets: Secrets, keptKey?: string): StoredDockerEngine {
  if (e.socketPath !== undefined) return { socketPath: e.socketPath };
  // the schema requires host, ca, cert and clientKey together (on an update, clientKey or a stored one)
  return {
    host: e.host ?? "",
    port: e.port,
    ca: e.ca ?? "",
    cert: e.cert ?? "",
    clientKey: e.clientKey !== undefined ? secrets.seal(e.clientKey) : (keptKey ?? secrets.seal("")),
  };
}

/** The sealed client key an update without one keeps: the stored TCP engine's; undefined when it was a socket. */
export function storedClientKey(e: StoredDockerEngine | undefined): string | undefined {
  return e && "clientKey" in e ? e.clientKey : undefined;
}

export function dockerView(e: StoredDockerEngine): NonNullable<CloudView["docker"]> {
  return "socketPath" in e
    ? { socketPath: e.socketPath, hasClientKey: false }
    : { host: e.host, port: e.port, ca: e.ca, cert: e.cert, hasClientKey: true };
}

export function buildDockerConnector(
  app: AppContext,
  name: string,
  e: StoredDockerEngine,
  agentServiceUrl: string | undefined,
): DockerConnector {
  const engine: DockerEngine =
    "socketPath" in e
      ? { socketPath: e.socketPath }
      : { host: e.host, port: e.port, ca: e.ca, cert: e.cert, key: app.secrets.open(e.clientKey) };
  return createDockerConnector({
    name,
    engine,
    bundleDir: path.join(app.dataDir, "agent"),
    imagesOf: runImages(app.db.$client),
    ...(agentServiceUrl ? { agentServiceUrl } : {}),
  });
}

/**
 * Boot reconcile for docker clouds, once the server listens at `serviceUrl`: containers and networks labelled with a
 * run that is no longer active are orphans (a server that died before it stopped them) and are removed; the
 * networks of active runs get their relay back, so their agents reconnect. Machines of ended runs still recorded as
 * running are stopped by the runs' own reconcile as well; both are idempotent.
 */
export function resumeDockerClouds(app: AppContext, serviceUrl: string): Promise<void> {
  const live = new Set(app.runs.activeRunIds());
  const docker = [...app.connectors].filter(([, c]) => c.kind === "docker") as [string, DockerConnector][];
  return Promise.all(
    docker.map(async ([name, c]) => {
      try {
        const n = await c.removeOrphans(live);
        if (n.containers || n.networks) app.log.info({ cloud: name, ...n }, "removed orphaned containers");
        await c.reattach(serviceUrl, live);
      } catch (err) {
        // an engine that is down now is no reason to refuse to start: its orphans go at the next boot
        app.log.warn({ err, cloud: name }, "resuming a docker cloud failed");
      }
    }),
  ).then(() => undefined);
}

/** The server is closing: the relays stop (containers and networks stay, for the next boot to resume). */
export async function closeDockerClouds(app: AppContext): Promise<void> {
  for (const c of [...app.connectors.values(), ...app.retiredConnectors.values()]) {
    if (c.kind === "docker") await (c as DockerConnector).close();
  }
}
