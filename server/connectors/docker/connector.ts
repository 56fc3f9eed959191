import { execFile } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import Docker from "dockerode";
import { sandboxHostname } from "../../../protocol/sandbox.js";
import { agentEnv } from "../agent-env.js";
import type { Connector, InstanceLaunch, StartedInstance, StopTarget } from "../types.js";
import { type DockerEngine, engineOptions } from "./engine.js";
import { type NodeRuntime, nodeRuntime, RUNTIME_DIR } from "./node-runtime.js";

const exec = promisify(execFile);

/** Everything this connector creates carries these labels: boot reconcile finds orphans by them. */
export const RUN_LABEL = "slipstream.run";
export const CLOUD_LABEL = "slipstream.cloud";
const INSTANCE_LABEL = "slipstream.instance";

/** Where the container sees what is mounted into it: nothing of the image is assumed but a POSIX shell. */
const BUNDLE_IN_CONTAINER = `${RUNTIME_DIR}/agent`;
const WORKSPACE = "/var/lib/slipstream/workspace";
/** The name containers reach the engine's host by, as on Docker Desktop. */
export const ENGINE_HOST_NAME = "host.docker.internal";

export interface DockerLimits {
  memoryBytes: number;
  pids: number;
  /** CPUs (fractions allowed) */
  cpus: number;
}
const DEFAULT_LIMITS: DockerLimits = { memoryBytes: 1024 * 1024 * 1024, pids: 1024, cpus: 1 };

export interface DockerConnectorOptions {
  /** the cloud's name: in labels, and the first key looked up in an image module's `images` */
  name: string;
  engine: DockerEngine;
  /** directory holding agent.mjs and ss.mjs (agent-bundle.ts), mounted read-only */
  bundleDir: string;
  /** the `images` of the image module a run's node was created from (the run's spec) */
  imagesOf: (runId: string, node: string) => Record<string, string> | undefined;
  /**
   * The server's URL as the containers see it. Absent (an engine on this machine): each run's network gets a relay
   * to the server on its bridge's own address, the one address an internal network reaches on the host.
   */
  agentServiceUrl?: string;
  limits?: Partial<DockerLimits>;
  killGraceSeconds?: number;
  /** the Node binary mounted as the agent's runtime (default: the server's own) */
  nodeBinary?: string;
}

export interface DockerConnector extends Connector {
  /** removes the containers and networks of this cloud whose run is not in `liveRuns` (boot reconcile) */
  removeOrphans(liveRuns: Set<string>): Promise<{ containers: number; networks: number }>;
  /**
   * After a server restart: the relays of the networks of `liveRuns` listen again, so the agents already running
   * in their containers reconnect (they retry the address they were given, which stays the same).
   */
  reattach(serviceUrl: string, liveRuns: Set<string>): Promise<void>;
  /** closes the relays (the server is closing); containers and networks stay for the next start */
  close(): Promise<void>;
}

interface RunNetwork {
  id: string;
  name: string;
  gateway: string;
  relay: net.Server | null;
  serviceUrl: string;
  /**
   * The server's URL the relay is to forward to, while the bridge has no address yet: Podman's netavark makes the
   * bridge when the network's first container starts, Docker when the network is created.
   */
  relayPending: { to: string; listening?: Promise<void> } | null;
}

/** The image for a node on this cloud: by the cloud's name first, then by its kind. */
export function imageFor(images: Record<string, string> | undefined, cloud: string): string | undefined {
  return images?.[cloud] ?? images?.docker;
}

const gone = (err: unknown) => {
  const code = (err as { statusCode?: number }).statusCode;
  return code === 404 || code === 304;
};

/**
 * The docker cloud: each instance is a container of its own on a per-run internal bridge network (no route out,
 * no NAT), with the instance's name as hostname, its address on that network as its `hostname` parameter, and
 * resource limits. The agent runs as the container's main process from a read-only mount of the server's Node
 * binary and the agent bundle, so the image needs no Node.
 */
export function createDockerConnector(opts: DockerConnectorOptions): DockerConnector {
  const docker = new Docker(engineOptions(opts.engine));
  const limits: DockerLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const bundleDir = path.resolve(opts.bundleDir);
  const nodeBinary = fs.realpathSync(opts.nodeBinary ?? process.execPath);
  let runtime: Promise<NodeRuntime> | null = null;
  const graceSeconds = opts.killGraceSeconds ?? 3;
  // an engine on a unix socket or on loopback TCP runs on this machine: its bridges are this machine's interfaces
  const localEngine =
    "socketPath" in opts.engine || ["127.0.0.1", "::1", "localhost"].includes(opts.engine.host.replace(/^\[|\]$/g, ""));
  const networks = new Map<string, Promise<RunNetwork>>();
  // network creation and removal for one run happen one at a time: a start never joins a network being removed
  const queues = new Map<string, Promise<unknown>>();
  // starts under way per run: the run's network is not removed under them
  const starting = new Map<string, number>();

  function serial<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    const prev = queues.get(runId) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    queues.set(runId, tail);
    void tail.then(() => {
      if (queues.get(runId) === tail) queues.delete(runId);
    });
    return next;
  }

  const labels = (runId: string) => ({ [RUN_LABEL]: runId, [CLOUD_LABEL]: opts.name });
  const filters = (runId?: string) => ({
    label: [runId ? `${RUN_LABEL}=${runId}` : RUN_LABEL, `${CLOUD_LABEL}=${opts.name}`],
  });

  /**
   * Listens on the bridge's address at the server's own port and relays to the server: the port stays the same
   * across server restarts, so agents already running in containers reconnect where they were told to. Where the
   * server listens on every address, that port is the server itself and no relay is needed.
   */
  async function relayTo(
    serviceUrl: string,
    gateway: string,
    { bridgeMayBeDown = false } = {},
  ): Promise<{ relay: net.Server | null; url: string; bridgeDown?: true }> {
    const target = new URL(serviceUrl);
    const port = Number(target.port || (target.protocol === "https:" ? 443 : 80));
    const host = target.hostname.replace(/^\[|\]$/g, "");
    const url = new URL(serviceUrl);
    url.hostname = gateway;
    const at = url.toString().replace(/\/$/, "");
    const relay = net.createServer((inbound) => {
      const outbound = net.connect({ host, port });
      inbound.pipe(outbound).pipe(inbound);
      const close = () => {
        inbound.destroy();
        outbound.destroy();
      };
      inbound.on("error", close);
      outbound.on("error", close);
    });
    const listening = await new Promise<boolean | "down">((resolve, reject) => {
      relay.once("error", (err: NodeJS.ErrnoException) => {
        if (err.code === "EADDRINUSE") resolve(false);
        else if (err.code === "EADDRNOTAVAIL" && bridgeMayBeDown) resolve("down");
        else reject(err);
      });
      relay.listen(port, gateway, () => resolve(true));
    });
    if (listening === "down") return { relay: null, url: at, bridgeDown: true };
    if (!listening) return { relay: null, url: at };
    // the server's own listener decides when the process ends, not this relay
    relay.unref();
    return { relay, url: at };
  }

  async function openNetwork(runId: string, serviceUrl: string): Promise<RunNetwork> {
    const found = await docker.listNetworks({ filters: filters(runId) });
    const id =
      found[0]?.Id ??
      (
        await docker.createNetwork({
          Name: `ss-${runId}-${opts.name}`,
          Driver: "bridge",
          Internal: true,
          CheckDuplicate: true,
          Labels: labels(runId),
        })
      ).id;
    const info = await docker.getNetwork(id).inspect();
    const gateway = info.IPAM?.Config?.[0]?.Gateway as string | undefined;
    if (!gateway) throw new Error(`network ${info.Name} has no gateway address`);
    if (opts.agentServiceUrl || !localEngine) {
      const url = opts.agentServiceUrl ?? serviceUrl;
      return { id, name: info.Name, gateway, relay: null, serviceUrl: url, relayPending: null };
    }
    const { relay, url, bridgeDown } = await relayTo(serviceUrl, gateway, { bridgeMayBeDown: true });
    const relayPending = bridgeDown ? { to: serviceUrl } : null;
    return { id, name: info.Name, gateway, relay, serviceUrl: url, relayPending };
  }

  function network(runId: string, serviceUrl: string): Promise<RunNetwork> {
    let n = networks.get(runId);
    if (!n) {
      n = serial(runId, () => openNetwork(runId, serviceUrl));
      networks.set(runId, n);
      n.catch(() => networks.delete(runId));
    }
    return n;
  }

  /** Removes the run's network once no container of this cloud is on it any more (the run's last stop). */
  function releaseNetwork(runId: string): Promise<void> {
    return serial(runId, async () => {
      if ((starting.get(runId) ?? 0) > 0) return;
      const left = await docker.listContainers({ all: true, filters: filters(runId) });
      if (left.length > 0) return;
      const open = networks.get(runId);
      networks.delete(runId);
      const n = open ? await open.catch(() => null) : null;
      n?.relay?.close();
      for (const found of await docker.listNetworks({ filters: filters(runId) })) {
        await docker
          .getNetwork(found.Id)
          .remove()
          .catch((err) => {
            if (!gone(err)) throw err;
          });
      }
    });
  }

  /**
   * Only ever an address behind the run's own bridge: never one reached through another of the host's links. The
   * bridge is the interface holding the network's gateway address: Docker names it br-<id>, Podman podman<N>.
   */
  async function checkRoute(address: string, n: RunNetwork): Promise<void> {
    if (!localEngine) return;
    const route = (await exec("ip", ["route", "get", address])).stdout;
    const dev = /\bdev (\S+)/.exec(route)?.[1];
    const holds = dev ? (await exec("ip", ["-o", "-4", "addr", "show", "dev", dev, "to", n.gateway])).stdout : "";
    if (!holds.trim()) {
      throw new Error(`container address ${address} is not behind the run's bridge (${n.gateway}): ${route.trim()}`);
    }
  }

  /** What a person on the server's machine types to get a shell in the instance's workspace. */
  function loginCommand(container: string): string {
    const e = opts.engine;
    const endpoint = "socketPath" in e ? `unix://${e.socketPath}` : `tcp://${e.host}:${e.port} --tlsverify`;
    return `docker -H ${endpoint} exec -it -w ${WORKSPACE} ${container} /bin/sh`;
  }

  async function removeContainer(id: string): Promise<void> {
    await docker
      .getContainer(id)
      .remove({ force: true })
      .catch((err) => {
        if (!gone(err)) throw err;
      });
  }

  async function startContainer(launch: InstanceLaunch): Promise<StartedInstance> {
    const images = opts.imagesOf(launch.runId, launch.node);
    const image = imageFor(images, launch.cloud);
    if (!image) {
      throw new Error(
        `the image of node '${launch.node}' names no container image for cloud '${launch.cloud}': ` +
          `add images: { ${launch.cloud}: <image> } (or images: { docker: <image> }) to its image module`,
      );
    }
    const n = await network(launch.runId, launch.serviceUrl);
    runtime ??= nodeRuntime(nodeBinary);
    const node = await runtime;
    const hostname = sandboxHostname(launch.instance);
    const name = `ss-${launch.runId}-${hostname}`;
    // started again (a server restart while it was starting): the first container goes first
    await removeContainer(name);
    const env = {
      ...agentEnv(launch, {
        workspace: WORKSPACE,
        serviceUrl: n.serviceUrl,
        killGraceSeconds: opts.killGraceSeconds,
        ssClient: `${BUNDLE_IN_CONTAINER}/ss.mjs`,
      }),
      PATH: `${RUNTIME_DIR}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      HOME: "/root",
      SLIPSTREAM_NODE_COMMAND: JSON.stringify(node.command),
    };
    const container = await docker.createContainer({
      name,
      Image: image,
      Hostname: hostname,
      Labels: { ...labels(launch.runId), [INSTANCE_LABEL]: launch.instance },
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      Cmd: [...node.command, `${BUNDLE_IN_CONTAINER}/agent.mjs`],
      WorkingDir: WORKSPACE,
      HostConfig: {
        NetworkMode: n.name,
        Binds: [...node.binds, `${bundleDir}:${BUNDLE_IN_CONTAINER}:ro`],
        // the network has no route out: the engine's host, at the bridge's own address, is the one place a recipe
        // can fetch from (a package mirror or proxy there lets SlipStream's `apt-get install` recipes run unchanged)
        ExtraHosts: [`${ENGINE_HOST_NAME}:${n.gateway}`],
        // an init reaps what recipes leave behind (daemons like apache2 fork away from their script)
        Init: true,
        Memory: limits.memoryBytes,
        PidsLimit: limits.pids,
        NanoCpus: Math.round(limits.cpus * 1e9),
      },
    });
    try {
      await container.start();
      const info = await container.inspect();
      const address = info.NetworkSettings.Networks[n.name]?.IPAddress;
      if (!address) throw new Error(`container ${name} got no address on ${n.name}`);
      await checkRoute(address, n);
      if (n.relayPending) {
        // the bridge is up now that a container is on it; the agent retries until the relay listens
        const pending = n.relayPending;
        pending.listening ??= relayTo(pending.to, n.gateway).then((r) => {
          n.relay = r.relay;
          n.relayPending = null;
        });
        await pending.listening;
      }
      return { instanceId: container.id, hostname: address, workspace: WORKSPACE, login: loginCommand(name) };
    } catch (err) {
      await removeContainer(container.id).catch(() => undefined);
      throw err;
    }
  }

  return {
    kind: "docker",

    async start(launch: InstanceLaunch): Promise<StartedInstance> {
      starting.set(launch.runId, (starting.get(launch.runId) ?? 0) + 1);
      let started = false;
      try {
        const out = await startContainer(launch);
        started = true;
        return out;
      } finally {
        const left = (starting.get(launch.runId) ?? 1) - 1;
        if (left > 0) starting.set(launch.runId, left);
        else starting.delete(launch.runId);
        // a start that failed may have made the run's network for nothing: no stop will come for it
        if (!started) await releaseNetwork(launch.runId).catch(() => undefined);
      }
    },

    async stop(instance: StopTarget, { keep }: { keep: boolean }): Promise<void> {
      const c = docker.getContainer(instance.instanceId);
      await c.stop({ t: graceSeconds }).catch((err) => {
        if (!gone(err)) throw err;
      });
      // kept: stopped, its files still there to inspect; the run's network stays with it
      if (keep) return;
      await removeContainer(instance.instanceId);
      await releaseNetwork(instance.runId);
    },

    async removeOrphans(liveRuns: Set<string>) {
      const runOf = (l: Record<string, string> | undefined) => l?.[RUN_LABEL] ?? "";
      let containers = 0;
      let nets = 0;
      for (const c of await docker.listContainers({ all: true, filters: filters() })) {
        if (liveRuns.has(runOf(c.Labels))) continue;
        await removeContainer(c.Id);
        containers++;
      }
      for (const n of await docker.listNetworks({ filters: filters() })) {
        if (liveRuns.has(runOf(n.Labels))) continue;
        await docker
          .getNetwork(n.Id)
          .remove()
          .catch((err) => {
            if (!gone(err)) throw err;
          });
        nets++;
      }
      return { containers, networks: nets };
    },

    async reattach(serviceUrl: string, liveRuns: Set<string>) {
      const runs = new Set((await docker.listNetworks({ filters: filters() })).map((n) => n.Labels?.[RUN_LABEL] ?? ""));
      await Promise.all([...runs].filter((r) => liveRuns.has(r)).map((r) => network(r, serviceUrl)));
    },

    async close() {
      for (const n of networks.values()) (await n.catch(() => null))?.relay?.close();
      networks.clear();
    },
  };
}
